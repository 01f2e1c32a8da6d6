# ctest script: libxcit_cuda.so takes the CUDA runtime from a shared libcudart.so.<major>
# (NEEDED in its dynamic section) and carries no static copy of it (no cudart-internal
# symbols such as cudaGetDeviceCount defined inside), so a process that also calls
# cudart from Java has one runtime (cmake -DLIB=libxcit_cuda.so -DREADELF=readelf -P ...).
execute_process(COMMAND "${READELF}" --dynamic "${LIB}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} --dynamic failed on ${LIB}")
endif()
if(NOT dynamic MATCHES "NEEDED[^\n]*\\[libcudart\\.so\\.[0-9]+\\]")
  message(FATAL_ERROR "${LIB} does not need a shared libcudart.so.<major>:\n${dynamic}")
endif()
execute_process(COMMAND "${READELF}" --wide --syms "${LIB}" OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} --syms failed on ${LIB}")
endif()
# A defined (section index not UND) cudaGetDeviceCount means cudart was linked in.
if(syms MATCHES "FUNC[^\n]* [0-9]+ cudaGetDeviceCount[\n@]")
  message(FATAL_ERROR "${LIB} defines cudaGetDeviceCount: a static CUDA runtime is linked in")
endif()
string(REGEX MATCH "\\[libcudart\\.so\\.[0-9]+\\]" needed "${dynamic}")
message(STATUS "${LIB}: NEEDED ${needed}, no cudart of its own")
