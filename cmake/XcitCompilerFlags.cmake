# Compiler flags for every xcit target, in one place.
#
# - Release by default: the libraries ship inside the jar, and Release is -O3 -DNDEBUG
#   for both gcc and nvcc; -O3 is also forced below for every non-Debug configuration.
# - Warnings are errors for C and for CUDA (device side and the host code nvcc hands
#   to gcc), so a warning never reaches the jar.
# - Symbols are hidden by default; only functions marked XCIT_API in
#   native/include/xcit/*.h are exported, which is exactly what bindings/ declares.

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

set(XCIT_C_WARNINGS -Wall -Wextra -Werror)

# xcit_target_flags(<target>): standard, optimisation, warnings and visibility.
function(xcit_target_flags target)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 17
    C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    C_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${XCIT_C_WARNINGS}>
    $<$<AND:$<COMPILE_LANGUAGE:C>,$<NOT:$<CONFIG:Debug>>>:-O3>
    # C++: only the host emulation of the CUDA kernels and its tests (native/tests/emu).
    $<$<COMPILE_LANGUAGE:CXX>:${XCIT_C_WARNINGS}>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<NOT:$<CONFIG:Debug>>>:-O2>
    # nvcc: device-side warnings as errors, and gcc's on the host half of each .cu.
    $<$<COMPILE_LANGUAGE:CUDA>:--Werror=all-warnings>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<NOT:$<CONFIG:Debug>>>:-O3>)
endfunction()

# xcit_shared_library(<target> <sources>...): a shared library whose only exported
# symbols are the XCIT_API functions; static archives linked into it keep their symbols
# local, so two xcit libraries never clash in one process.
function(xcit_shared_library target)
  add_library(${target} SHARED ${ARGN})
  xcit_target_flags(${target})
  target_link_options(${target} PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined)
  if(XCIT_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${XCIT_OUTPUT_DIR}")
  endif()
endfunction()
