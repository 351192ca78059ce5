# Warnings in our own code. They are errors in the developers' and CI's configuration
# (-DVIPD_WERROR=ON, set by scripts/test.sh and .ci/run), never in a user's plain build: a newer
# compiler's new warning must not stop someone from building a release.
option(VIPD_WERROR "Treat warnings in vipd's own code as errors" OFF)
set(VIPD_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(VIPD_WERROR)
  list(APPEND VIPD_WARNING_FLAGS -Werror)
endif()

function(vipd_warnings target)
  target_compile_options(${target} PRIVATE ${VIPD_WARNING_FLAGS} $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports std::optional copies into containers as dangling (GCC bug 106393 family), and
    # moves of a std::variant holding a std::string as maybe-uninitialized at -O2 and above (GCC
    # bugs 80635, 105562): both false positives, fixed in later releases.
    target_compile_options(${target} PRIVATE -Wno-dangling-pointer -Wno-maybe-uninitialized)
  endif()
endfunction()
