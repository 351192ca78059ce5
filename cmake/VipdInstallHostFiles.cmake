# Install-time part of cmake/VipdPackage.cmake (run by `cmake --install` and by cpack): the files
# whose place or content depends on the prefix the install is made for, which is only known now
# (cpack packages for /usr whatever the build was configured with).
#   - vipd@.service: /lib/systemd/system for the /usr prefix (Debian's place for packaged units),
#     <prefix>/lib/systemd/system otherwise (systemd reads /usr/local/lib/systemd/system too); its
#     Exec lines run <prefix>/<sbindir>/vipd instead of the hand-install path /usr/local/sbin/vipd.
#   - /etc/vipd (empty): the unit's EnvironmentFile directory; <prefix>/etc/vipd off /usr.
# Inputs: VIPD_UNIT_SOURCE, VIPD_SBINDIR (relative), VIPD_STAGING (a build-tree directory).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(vipd_unit_dir /lib/systemd/system)
  set(vipd_etc_dir /etc/vipd)
else()
  set(vipd_unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  set(vipd_etc_dir ${CMAKE_INSTALL_PREFIX}/etc/vipd)
endif()

file(READ ${VIPD_UNIT_SOURCE} vipd_unit)
string(FIND "${vipd_unit}" "/usr/local/sbin/vipd " vipd_unit_binary)
if(vipd_unit_binary EQUAL -1)
  message(FATAL_ERROR "deploy/systemd/vipd@.service no longer runs /usr/local/sbin/vipd: update "
                      "cmake/VipdInstallHostFiles.cmake, which rewrites that path")
endif()
string(REPLACE "/usr/local/sbin/vipd " "${CMAKE_INSTALL_PREFIX}/${VIPD_SBINDIR}/vipd " vipd_unit
               "${vipd_unit}")
string(REGEX REPLACE "\n# Install: [^\n]*"
                     "\n# Installed with vipd under ${CMAKE_INSTALL_PREFIX} (docs/DEPLOY.md)."
                     vipd_unit "${vipd_unit}")
file(WRITE ${VIPD_STAGING}/vipd@.service "${vipd_unit}")
# file(INSTALL) honours DESTDIR and records the file in install_manifest.txt.
file(INSTALL DESTINATION ${vipd_unit_dir} TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
     WORLD_READ FILES ${VIPD_STAGING}/vipd@.service)
file(MAKE_DIRECTORY $ENV{DESTDIR}${vipd_etc_dir})
