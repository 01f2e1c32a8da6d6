package org.xcit4j.image;

import com.twelvemonkeys.imageio.metadata.CompoundDirectory;
import com.twelvemonkeys.imageio.metadata.Directory;
import com.twelvemonkeys.imageio.metadata.Entry;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEG;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegment;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegmentUtil;
import com.twelvemonkeys.imageio.metadata.tiff.TIFF;
import com.twelvemonkeys.imageio.metadata.tiff.TIFFReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageInputStream;

/**
 * The two JPEG marker segments whose content changes the pixels PIL gives: APP1 "Exif"
 * (orientation) and APP14 "Adobe" (colour transform). Parsed with TwelveMonkeys' segment and
 * TIFF readers. Damaged segments read as absent: the pixels may still be fine, and PIL
 * ignores unreadable EXIF too.
 */
final class JpegMarkers {
    /** APP14 Adobe transform 2: the four channels are YCCK, not CMYK. */
    static final int ADOBE_YCCK = 2;
    /** No APP14 Adobe segment. */
    static final int NO_ADOBE = -1;

    private JpegMarkers() {
    }

    /** The EXIF orientation (IFD0 tag 0x0112), or {@link ExifOrientation#NORMAL} when absent or outside 1..8. */
    static int exifOrientation(ImageDecoder.Source source) {
        try {
            byte[] data = firstSegment(source, JPEG.APP1, "Exif");
            if (data == null) return ExifOrientation.NORMAL;
            // After the "Exif" identifier come one or two NULs, then the TIFF header (II* or MM*).
            int start = 0;
            while (start < Math.min(data.length, 4) && data[start] != 'I' && data[start] != 'M') start++;
            try (ImageInputStream tiff = ImageIO.createImageInputStream(new ByteArrayInputStream(data, start, data.length - start))) {
                Directory dir = new TIFFReader().read(tiff);
                if (dir instanceof CompoundDirectory c && c.directoryCount() > 0) dir = c.getDirectory(0);
                Entry e = dir.getEntryById(TIFF.TAG_ORIENTATION);
                if (e == null || !(e.getValue() instanceof Number n)) return ExifOrientation.NORMAL;
                int o = n.intValue();
                return o >= 1 && o <= 8 ? o : ExifOrientation.NORMAL;
            }
        } catch (IOException | RuntimeException e) {
            return ExifOrientation.NORMAL;
        }
    }

    /** The APP14 Adobe transform byte (0 RGB/CMYK, 1 YCbCr, 2 YCCK), or {@link #NO_ADOBE}. */
    static int adobeTransform(ImageDecoder.Source source) {
        try {
            byte[] data = firstSegment(source, JPEG.APP14, "Adobe");
            // The payload ends with the transform byte (after version, flags0, flags1); where data()
            // starts depends on how the identifier was split off, the end does not.
            return data == null || data.length == 0 ? NO_ADOBE : data[data.length - 1] & 0xff;
        } catch (IOException | RuntimeException e) {
            return NO_ADOBE;
        }
    }

    /** The payload after the identifier of the first {@code marker} segment named {@code id}, or null. */
    private static byte[] firstSegment(ImageDecoder.Source source, int marker, String id) throws IOException {
        try (ImageInputStream in = source.open()) {
            if (in == null) return null;
            List<JPEGSegment> segments = JPEGSegmentUtil.readSegments(in, marker, id);
            if (segments.isEmpty()) return null;
            try (InputStream d = segments.getFirst().data()) {
                return d.readAllBytes();
            }
        }
    }
}
