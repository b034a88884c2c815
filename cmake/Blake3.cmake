# blake3: the official BLAKE3 C implementation, compiled from the sources Debian ships in the
# package librust-blake3-dev (/usr/share/cargo/registry/blake3-<version>/c). The repository keeps
# no copy. Set BLAKE3_C_DIR to use another checkout of that c/ folder.
enable_language(C ASM)

set(BLAKE3_C_DIR "" CACHE PATH "The c/ folder of the BLAKE3 sources (default: librust-blake3-dev's)")
if(NOT BLAKE3_C_DIR)
  file(GLOB blake3_candidates LIST_DIRECTORIES true /usr/share/cargo/registry/blake3-*/c)
  if(blake3_candidates)
    list(SORT blake3_candidates COMPARE NATURAL ORDER DESCENDING)  # the newest version
    list(GET blake3_candidates 0 BLAKE3_C_DIR)
  endif()
endif()
if(NOT BLAKE3_C_DIR OR NOT EXISTS "${BLAKE3_C_DIR}/blake3.h")
  message(FATAL_ERROR "The BLAKE3 C sources were not found under /usr/share/cargo/registry/blake3-*/c: "
                      "install the Debian package librust-blake3-dev (scripts/install-deps.sh), "
                      "or set BLAKE3_C_DIR to a BLAKE3 c/ folder")
endif()
message(STATUS "BLAKE3 C sources: ${BLAKE3_C_DIR}")

set(blake3_sources ${BLAKE3_C_DIR}/blake3.c ${BLAKE3_C_DIR}/blake3_dispatch.c
                   ${BLAKE3_C_DIR}/blake3_portable.c)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" AND NOT WIN32)
  # What upstream's own build uses on Linux x86-64: the hand-written assembly, picked at run time
  # by blake3_dispatch.c from CPUID.
  foreach(isa IN ITEMS sse2 sse41 avx2 avx512)
    list(APPEND blake3_sources ${BLAKE3_C_DIR}/blake3_${isa}_x86-64_unix.S)
  endforeach()
  set(blake3_definitions "")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  list(APPEND blake3_sources ${BLAKE3_C_DIR}/blake3_neon.c)  # blake3_impl.h turns NEON on here
  set(blake3_definitions "")
else()
  set(blake3_definitions BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512
                         BLAKE3_USE_NEON=0)
endif()

add_library(blake3 STATIC ${blake3_sources})
target_include_directories(blake3 SYSTEM PUBLIC ${BLAKE3_C_DIR})
target_compile_definitions(blake3 PRIVATE ${blake3_definitions})
# Vendor code: our -Wall -Wextra -Werror are not its contract.
target_compile_options(blake3 PRIVATE -w)
