// Op-type counting from the ONNX wire format (`paraserve models --ops`), and ORT writing the
// graph it optimised.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "../models_required.h"
#include "common/error.h"
#include "fixture.h"
#include "models/onnx_ops.h"
#include "models/ort_runtime.h"

namespace paraserve {
namespace {

// Minimal protobuf writer for hand-made ModelProtos.
std::string varint(uint64_t v) {
  std::string s;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    s.push_back(static_cast<char>(b));
  } while (v);
  return s;
}
std::string bytes_field(uint32_t field, const std::string& payload) {
  return varint(field << 3 | 2) + varint(payload.size()) + payload;
}
std::string varint_field(uint32_t field, uint64_t v) { return varint(field << 3) + varint(v); }
std::string node(const std::string& op, const std::string& domain = "", const std::string& extra = "") {
  std::string n = bytes_field(1, "x") + bytes_field(2, "y") + bytes_field(3, "name_" + op) + bytes_field(4, op);
  if (!domain.empty()) n += bytes_field(7, domain);
  return n + extra;
}

TEST(OnnxOps, CountsNodesByDomainAndOpTypeIncludingSubgraphs) {
  const std::string then_branch = bytes_field(1, node("Relu")) + bytes_field(1, node("Relu"));
  const std::string attr_g = bytes_field(1, "then_branch") + bytes_field(6, then_branch) + varint_field(20, 5);
  const std::string attr_graphs = bytes_field(1, "bodies") + bytes_field(11, bytes_field(1, node("Sigmoid")));
  const std::string initializer = bytes_field(8, "w") + bytes_field(9, std::string(100000, '\x7f'));
  std::string graph;
  graph += bytes_field(1, node("MatMul"));
  graph += bytes_field(5, initializer);  // weights between nodes are skipped
  graph += bytes_field(1, node("Add", "ai.onnx"));
  graph += bytes_field(1, node("MatMul"));
  graph += bytes_field(1, node("MatMulIntegerToFloat", "com.microsoft"));
  graph += bytes_field(1, node("If", "", bytes_field(5, attr_g) + bytes_field(5, attr_graphs)));
  graph += bytes_field(2, "main");
  const std::string model = varint_field(1, 8) + bytes_field(2, "producer") + bytes_field(7, graph) +
                            bytes_field(8, bytes_field(1, "") + varint_field(2, 17));
  const OpCounts c = count_onnx_ops(model);
  const OpCounts want{{"MatMul", 2},  {"Add", 1},     {"com.microsoft:MatMulIntegerToFloat", 1},
                      {"If", 1},      {"Relu", 2},    {"Sigmoid", 1}};
  EXPECT_EQ(c, want);
}

TEST(OnnxOps, MalformedBytesAreOneLineErrors) {
  const std::string model = bytes_field(7, bytes_field(1, node("MatMul")));
  EXPECT_EQ(count_onnx_ops(model).at("MatMul"), 1);
  EXPECT_THROW(count_onnx_ops(model.substr(0, model.size() - 3)), Error);  // truncated
  EXPECT_THROW(count_onnx_ops(varint_field(1, 8)), Error);                  // no graph
  EXPECT_THROW(count_onnx_ops(std::string("\x0b\x00", 2)), Error);           // wire type 3 (group)
  EXPECT_THROW(count_onnx_ops(bytes_field(7, bytes_field(1, bytes_field(3, "n")))), Error);  // no op_type
  const std::string msg = test::error_of([] { count_onnx_ops_file("/nonexistent/model.onnx"); });
  EXPECT_NE(msg.find("/nonexistent/model.onnx: cannot open"), std::string::npos) << msg;
}

TEST(OnnxOps, OrtWritesTheOptimisedGraphAndFusesQuantizedMatMuls) {
  const std::string dir = test::model_set_dir("tiny", "online");
  if (dir.empty()) PARASERVE_MODELS_MISSING("models/tiny not generated");
  const std::string in = dir + "/model_quant.onnx";
  const OpCounts stored = count_onnx_ops_file(in);
  ASSERT_GT(stored.count("MatMulInteger"), 0u);
  ASSERT_GT(stored.count("DynamicQuantizeLinear"), 0u);

  const std::string out = (std::filesystem::temp_directory_path() /
                           ("paraserve-onnx-ops-test-" + std::to_string(::getpid()) + ".onnx"))
                              .string();
  OrtRuntime rt;  // serve's defaults: ORT_ENABLE_ALL
  rt.open_and_save_optimized(in, out);
  const OpCounts opt = count_onnx_ops_file(out);
  std::filesystem::remove(out);
  // DynamicQuantizeLinear + MatMulInteger (+ scale Mul/Cast) become one contrib kernel.
  EXPECT_EQ(opt.count("MatMulInteger"), 0u);
  EXPECT_EQ(opt.count("DynamicQuantizeLinear"), 0u);
  EXPECT_EQ(opt.at("com.microsoft:DynamicQuantizeMatMul"), stored.at("MatMulInteger"));
}

}  // namespace
}  // namespace paraserve
