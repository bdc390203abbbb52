# bpf_skeleton(NAME SOURCE file.bpf.c [HEADERS h...])
# Compiles one BPF object with clang -target bpf against the pinned vmlinux.h and emits
# <NAME>.skel.h with bpftool. Creates an INTERFACE target `bpf_<NAME>` whose include
# directory holds the skeleton, so consumers only link the target.
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool REQUIRED PATHS /usr/sbin /usr/local/sbin)

# x86_64 only: bpf/vmlinux/ pins no other architecture's header (scripts/gen-vmlinux.sh writes one), and nothing
# builds or tests another.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_TARGET_ARCH x86)
  set(BPF_VMLINUX_DIR ${PROJECT_SOURCE_DIR}/bpf/vmlinux/x86_64)
else()
  message(FATAL_ERROR "sigdrain: no pinned vmlinux.h for ${CMAKE_SYSTEM_PROCESSOR}: bpf/vmlinux/ holds x86_64 only")
endif()

function(bpf_skeleton NAME)
  cmake_parse_arguments(ARG "" "SOURCE" "HEADERS" ${ARGN})
  if(NOT ARG_SOURCE)
    message(FATAL_ERROR "bpf_skeleton(${NAME}): SOURCE is required")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf_skel)
  set(obj ${out_dir}/${NAME}.bpf.o)
  set(skel ${out_dir}/${NAME}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -Wall -Werror -Wno-unused-function
            -I${BPF_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR}/bpf
            -c ${ARG_SOURCE} -o ${obj}
    DEPENDS ${ARG_SOURCE} ${ARG_HEADERS}
    COMMENT "BPF ${NAME}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${NAME}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${NAME}"
    VERBATIM)
  add_custom_target(bpf_${NAME}_gen DEPENDS ${skel})
  add_library(bpf_${NAME} INTERFACE)
  target_include_directories(bpf_${NAME} INTERFACE ${out_dir})
  add_dependencies(bpf_${NAME} bpf_${NAME}_gen)
endfunction()
