# The seam between pure logic and adapters (see ../shared/STYLE.md): pure libraries may use the
# standard library (and protobuf for wire) only. gwsync_check_pure() fails the configure step
# when a pure source includes an adapter header, naming the file and the include.
set(GWSYNC_FORBIDDEN_IN_PURE
    "libmnl/" "libnetfilter_conntrack/" "boost/asio" "linux/netlink" "linux/netfilter"
    "sys/socket" "nftables/")

function(gwsync_check_pure target)
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  # Every source plus every header in the folders the sources live in.
  set(files "")
  foreach(src IN LISTS sources)
    if(NOT IS_ABSOLUTE "${src}")
      set(src "${source_dir}/${src}")
    endif()
    get_filename_component(dir "${src}" DIRECTORY)
    file(GLOB headers "${dir}/*.h")
    list(APPEND files "${src}" ${headers})
  endforeach()
  list(REMOVE_DUPLICATES files)
  foreach(src IN LISTS files)
    file(STRINGS "${src}" includes REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS includes)
      foreach(bad IN LISTS GWSYNC_FORBIDDEN_IN_PURE)
        string(FIND "${line}" "${bad}" pos)
        if(NOT pos EQUAL -1)
          message(FATAL_ERROR "pure library ${target}: ${src} includes '${bad}' (${line}); "
                              "move the I/O into an adapter library")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()
