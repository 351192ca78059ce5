# One CMake library per room of agent/ (README "Layout"). A room links only the rooms below it;
# scripts/check-layers.py (ctest `unit.layers`) fails the build's tests if an #include points
# upward.
#
# vipd_room(<room> SOURCES <src>... [ROOMS <room>...] [LIBS <lib>...] [SANITIZED])
#   Library vipd_<room> from agent/<room>/<src>, linking vipd_<room> of each listed room and the
#   given libraries. SANITIZED (pure rooms only: no I/O, so the unit and simulator tests can run
#   them under ASan/UBSan) also builds vipd_<room>_san linking the rooms' _san variants.
function(vipd_room room)
  cmake_parse_arguments(arg "SANITIZED" "" "SOURCES;ROOMS;LIBS" ${ARGN})
  set(sources "")
  foreach(src ${arg_SOURCES})
    list(APPEND sources ${PROJECT_SOURCE_DIR}/agent/${room}/${src})
  endforeach()
  set(variants plain)
  if(arg_SANITIZED)
    list(APPEND variants san)
  endif()
  foreach(variant ${variants})
    if(variant STREQUAL "san")
      set(suffix "_san")
    else()
      set(suffix "")
    endif()
    set(target vipd_${room}${suffix})
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/agent
                                                ${PROJECT_SOURCE_DIR}/include)
    foreach(below ${arg_ROOMS})
      target_link_libraries(${target} PUBLIC vipd_${below}${suffix})
    endforeach()
    target_link_libraries(${target} PUBLIC ${arg_LIBS})
    vipd_warnings(${target})
    if(suffix STREQUAL "_san")
      target_compile_options(${target} PUBLIC ${VIPD_SANITIZE_FLAGS})
      target_link_options(${target} PUBLIC ${VIPD_SANITIZE_FLAGS})
    endif()
  endforeach()
endfunction()
