# install.cmake - run by `cmake --install` (server/CMakeLists.txt includes it
# in an install(CODE) step): writes the systemd unit from mcmcd.service.in
# with the prefix being installed to (so `--prefix P` gives P/bin/mcmcd), and
# installs the sysusers.d file and the example config. Relative directories
# are under the prefix; the config goes to /etc/mcmcd when the prefix is
# /usr (the GNU rule), else PREFIX/etc/mcmcd. An existing mcmcd.conf is kept;
# mcmcd.conf.example beside it is always the shipped one.
# Set by the caller: MCMCD_DEPLOY_DIR, MCMCD_WORK_DIR, MCMCD_BINDIR,
# MCMCD_SYSCONFDIR, MCMCD_UNIT_DIR, MCMCD_SYSUSERS_DIR.

function(mcmcd_install_path out dir)
    if(IS_ABSOLUTE "${dir}")
        set(${out} "${dir}" PARENT_SCOPE)
    else()
        set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
    endif()
endfunction()

mcmcd_install_path(bindir "${MCMCD_BINDIR}")
mcmcd_install_path(unitdir "${MCMCD_UNIT_DIR}")
mcmcd_install_path(sysusersdir "${MCMCD_SYSUSERS_DIR}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND MCMCD_SYSCONFDIR STREQUAL "etc")
    set(sysconfdir /etc)
else()
    mcmcd_install_path(sysconfdir "${MCMCD_SYSCONFDIR}")
endif()

set(MCMCD_BINARY "${bindir}/mcmcd")
set(MCMCD_CONFIG_FILE "${sysconfdir}/mcmcd/mcmcd.conf")
# one work file per destination: installs to other prefixes may run at once
string(MD5 dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(unit "${MCMCD_WORK_DIR}/unit-${dest}/mcmcd.service")
configure_file("${MCMCD_DEPLOY_DIR}/mcmcd.service.in" "${unit}" @ONLY)

# file(INSTALL) puts $DESTDIR in front of these, as install(FILES) does
file(INSTALL "${unit}" DESTINATION "${unitdir}")
file(INSTALL "${MCMCD_DEPLOY_DIR}/mcmcd.sysusers" DESTINATION "${sysusersdir}"
     RENAME mcmcd.conf)
file(INSTALL "${MCMCD_DEPLOY_DIR}/mcmcd.conf" DESTINATION "${sysconfdir}/mcmcd"
     RENAME mcmcd.conf.example)
if(NOT EXISTS "$ENV{DESTDIR}${sysconfdir}/mcmcd/mcmcd.conf")
    file(INSTALL "${MCMCD_DEPLOY_DIR}/mcmcd.conf" DESTINATION "${sysconfdir}/mcmcd")
endif()
