# ctest script: every symbol a libxcit*.so defines for the dynamic linker must match
# PATTERN, for the ABI libraries ^xcit_ (cmake -DLIBS=a.so,b.so -DNM=nm -DPATTERN=re -P
# check_exports.cmake).
string(REPLACE "," ";" libs "${LIBS}")
foreach(lib IN LISTS libs)
  execute_process(COMMAND "${NM}" -D --defined-only "${lib}"
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${lib}")
  endif()
  string(REGEX MATCHALL "[^\n]+" lines "${out}")
  set(exported "")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[0-9a-fA-F]* *[A-Za-z] " "" name "${line}")
    if(NOT name MATCHES "${PATTERN}")
      message(FATAL_ERROR "${lib} exports '${name}', which does not match ${PATTERN}")
    endif()
    list(APPEND exported ${name})
  endforeach()
  message(STATUS "${lib}: ${exported}")
endforeach()
