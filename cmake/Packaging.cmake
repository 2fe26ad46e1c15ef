# CPack: the Debian package gwsync_<version>_<arch>.deb (scripts/package.sh builds it).
# It holds what `cmake --install` installs: gwsyncd, gwsyncctl, gwsync-ct, the systemd unit,
# sysusers.d and tmpfiles.d entries, the documentation and the example configuration. Library
# dependencies come from dpkg-shlibdeps. The maintainer scripts create the gwsync user and
# leave the service disabled until /etc/gwsync/gwsync.toml exists.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gwsync)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gwsync maintainers <gwsync@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gateway conntrack, NAT and load-balancer state sync")
set(CPACK_PACKAGE_DESCRIPTION
    "gwsyncd keeps the connection-tracking state of two Linux gateways in sync, so that sessions
survive a gateway failure or the live migration of a VM to the other site. gwsyncctl controls
it; gwsync-ct dumps, watches, copies and injects conntrack entries.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "conntrack, nftables")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, keepalived, bird2")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
