# Installation and the Debian package (`cpack -G DEB` in the build directory).
#
#   /usr/sbin/vipd                                   the daemon and CLI
#   /lib/systemd/system/vipd@.service                deploy/systemd/vipd@.service, ExecStart* paths
#                                                    pointing at the installed binary
#   /usr/share/man/man8/vipd.8.gz                    generated from `vipd run --help` (help2man)
#   /usr/share/doc/vipd/examples/{eth0.env,vipd.toml} settings to copy to /etc/vipd/<interface>.env
#   /usr/share/vipd/prometheus/vipd-rules.yml        Prometheus alert rules
#   /etc/vipd/                                       empty: the unit's EnvironmentFile directory
#
# The prefix defaults to /usr (the package's, and always the package's); `cmake --install` with
# another prefix puts the unit in <prefix>/lib/systemd/system, which systemd also reads, with
# ExecStart pointing into <prefix>, and the settings directory at <prefix>/etc/vipd
# (cmake/VipdInstallHostFiles.cmake).
include(GNUInstallDirs)

# The man page and the package need help2man (scripts/setup.sh installs it); a build of the daemon
# alone (the container image's) configures without it and has no `package`/man page targets.
find_program(VIPD_HELP2MAN help2man)
find_program(VIPD_GZIP gzip)
if(NOT VIPD_HELP2MAN OR NOT VIPD_GZIP)
  message(STATUS "help2man or gzip not found: no man page and no Debian package "
                 "(scripts/setup.sh installs them)")
  install(TARGETS vipd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
  return()
endif()

# Prefix-dependent files (the unit, /etc/vipd) are made at install time: cpack installs for /usr
# whatever prefix the build directory was configured with.
set(VIPD_UNIT_SOURCE ${PROJECT_SOURCE_DIR}/deploy/systemd/vipd@.service)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/package)

# Man page: help2man runs the freshly built binary; the options are `run`'s (check-config takes
# the same), the commands and the other sections come from deploy/debian/vipd.h2m.
set(VIPD_MAN_PAGE ${CMAKE_BINARY_DIR}/package/vipd.8)
add_custom_command(
  OUTPUT ${VIPD_MAN_PAGE}.gz
  COMMAND ${VIPD_HELP2MAN} --no-info --section=8 "--help-option=run --help"
          --version-string=${PROJECT_VERSION}
          "--name=eBPF-assisted VRRP agent keeping virtual IPs alive"
          --include=${PROJECT_SOURCE_DIR}/deploy/debian/vipd.h2m
          --output=${VIPD_MAN_PAGE} $<TARGET_FILE:vipd>
  COMMAND ${VIPD_GZIP} -9nf ${VIPD_MAN_PAGE}
  DEPENDS vipd ${PROJECT_SOURCE_DIR}/deploy/debian/vipd.h2m
  COMMENT "Generating the vipd(8) man page with help2man"
  VERBATIM)
add_custom_target(vipd_man ALL DEPENDS ${VIPD_MAN_PAGE}.gz)

install(TARGETS vipd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(CODE "set(VIPD_UNIT_SOURCE \"${VIPD_UNIT_SOURCE}\")
              set(VIPD_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
              set(VIPD_STAGING \"${CMAKE_BINARY_DIR}/package\")
              include(\"${PROJECT_SOURCE_DIR}/cmake/VipdInstallHostFiles.cmake\")")
install(FILES ${VIPD_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/eth0.env
              ${PROJECT_SOURCE_DIR}/deploy/systemd/vipd.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/vipd-rules.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/vipd/prometheus)

# cpack -G DEB: Depends from dpkg-shlibdeps, maintainer scripts in deploy/debian/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vipd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The package is for /usr whatever this build directory's prefix; DESTDIR staging lets the
# absolute paths (/lib/systemd/system, /etc/vipd) land in the package, not on this host.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGE_CONTACT "vipd developers <vipd@localhost>" CACHE STRING
    "Maintainer field of the Debian package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "eBPF-assisted VRRP agent keeping virtual IPs alive")
# The extended description (cpack puts the summary above it as the first line).
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
       "vipd keeps virtual IPs alive on a group of Linux hosts with VRRP (RFC 3768,\n"
       "5798, 9568). XDP and tc programs validate adverts and watch the application\n"
       "port in the kernel, and a single-threaded agent runs the election and sets the\n"
       "VIPs over netlink. It is wire-compatible with keepalived and a drop-in for\n"
       "OpenShift's ipfailover.\n"
       ".\n"
       "This package ships the daemon, the vipd@.service unit (one instance per\n"
       "interface, settings in /etc/vipd/<interface>.env), example settings, the man\n"
       "page and Prometheus alert rules.")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bpftool, prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
                                       ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
                                       ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
include(CPack)
