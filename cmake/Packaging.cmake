# What the Debian package installs and how CPack builds it (`cpack` in a build folder, or
# scripts/build-deb.sh): lmcache-coordinator_<version>_amd64.deb with /usr/bin/lmcache, the
# systemd unit, its /etc/default file (a conffile), the man page and the maintainer scripts that
# create the service's system user. Depends are computed by dpkg-shlibdeps.
include(GNUInstallDirs)

set(packaging_dir ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS lmcache RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${packaging_dir}/lmcache-coordinator.service DESTINATION lib/systemd/system)
install(FILES ${packaging_dir}/lmcache-coordinator.default DESTINATION /etc/default
        RENAME lmcache-coordinator)

# The man page, compressed the way Debian wants (-n: no name or timestamp, so builds repeat).
set(man_page ${CMAKE_BINARY_DIR}/lmcache.1.gz)
add_custom_command(OUTPUT ${man_page}
                   COMMAND gzip -9n -c ${packaging_dir}/lmcache.1 > ${man_page}
                   DEPENDS ${packaging_dir}/lmcache.1
                   COMMENT "Compressing the man page")
add_custom_target(man_page ALL DEPENDS ${man_page})
add_dependencies(lmcache man_page)  # whoever builds the binary can package it
install(FILES ${man_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lmcache-coordinator)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "LMCache")
set(CPACK_PACKAGE_CONTACT "LMCache coordinator maintainers <lmcache-coordinator@lmcache.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "LMCache multi-process mode coordinator")
# The long description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "The HTTP service that LMCache MP servers register with and heartbeat to. It
keeps the fleet's shared L2 store within per-tenant quotas and hosts the
fleet-wide CacheBlend directory: a drop-in replacement for `lmcache coordinator`,
run as the lmcache-coordinator systemd service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # lmcache-coordinator_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst; merged with the shlibdeps
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${packaging_dir}/debian/conffiles ${packaging_dir}/debian/postinst
                                       ${packaging_dir}/debian/prerm ${packaging_dir}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                                GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_STRIP_FILES ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)  # /etc/default is meant
include(CPack)
