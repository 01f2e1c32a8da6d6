/* ABI version and status names (xcit.h). */
#include "xcit/xcit.h"

int32_t xcit_abi_version(void) { return XCIT_ABI_VERSION; }

const char* xcit_status_string(xcit_status status) {
  switch (status) {
    case XCIT_OK: return "XCIT_OK";
    case XCIT_ERR_INVALID_ARGUMENT: return "XCIT_ERR_INVALID_ARGUMENT";
    case XCIT_ERR_OUT_OF_MEMORY: return "XCIT_ERR_OUT_OF_MEMORY";
    case XCIT_ERR_UNSUPPORTED: return "XCIT_ERR_UNSUPPORTED";
    case XCIT_ERR_CUDA: return "XCIT_ERR_CUDA";
    case XCIT_ERR_INTERNAL: return "XCIT_ERR_INTERNAL";
    default: return "XCIT_ERR_UNKNOWN";
  }
}
