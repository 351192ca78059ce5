# ASan + UBSan for the test configuration: unit and simulator tests link a sanitized copy of the
# protocol core, so one build directory serves both the daemon and the sanitized checks.
set(VIPD_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

function(vipd_sanitize target)
  target_compile_options(${target} PRIVATE ${VIPD_SANITIZE_FLAGS})
  target_link_options(${target} PRIVATE ${VIPD_SANITIZE_FLAGS})
endfunction()
