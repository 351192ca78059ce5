# Warnings are errors in our own code: the build stays clean.
function(vipd_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor -Werror)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports std::optional copies into containers as dangling (GCC bug 106393 family).
    target_compile_options(${target} PRIVATE -Wno-dangling-pointer)
  endif()
endfunction()
