// Op types of an ONNX graph, read straight from the protobuf wire format (no protobuf
// library): `paraserve models --ops` counts them in a model file and in the graph ONNX
// Runtime optimised from it, to show which fusions (e.g. of quantized MatMuls) happen.
// Weights are skipped, not copied: a 900 MB model is mapped and only its node records read.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace paraserve {

// "op_type" for the default ONNX domain, "domain:op_type" otherwise (e.g.
// "com.microsoft:MatMulIntegerToFloat") -> number of nodes, subgraphs (If/Loop/Scan bodies)
// included. Throws paraserve::Error on bytes that are not a well-formed ModelProto.
using OpCounts = std::map<std::string, int>;
OpCounts count_onnx_ops(std::string_view model_proto);
OpCounts count_onnx_ops_file(const std::string& path);  // errors name the file

}  // namespace paraserve
