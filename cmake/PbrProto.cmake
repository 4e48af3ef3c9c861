# A static library of protobuf + gRPC code generated from .proto files (as in gRPC's route_guide
# example), with include paths relative to the calling folder ("pbr/v1/events.pb.h").
#   pbr_proto_library(NAME pbr_proto PROTOS pbr/v1/events.proto ...)
function(pbr_proto_library)
  cmake_parse_arguments(P "" "NAME" "PROTOS" ${ARGN})
  add_library(${P_NAME} STATIC ${P_PROTOS})
  target_link_libraries(${P_NAME} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${out}")
  target_include_directories(${P_NAME} PUBLIC "${out}")
  target_compile_options(${P_NAME} PRIVATE -w)  # generated code is not ours to lint
  protobuf_generate(TARGET ${P_NAME} LANGUAGE cpp IMPORT_DIRS "${CMAKE_CURRENT_SOURCE_DIR}" PROTOC_OUT_DIR "${out}")
  get_target_property(grpc_plugin gRPC::grpc_cpp_plugin LOCATION)
  protobuf_generate(TARGET ${P_NAME} LANGUAGE grpc
    GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
    PLUGIN "protoc-gen-grpc=${grpc_plugin}"
    IMPORT_DIRS "${CMAKE_CURRENT_SOURCE_DIR}"
    PROTOC_OUT_DIR "${out}")
endfunction()
