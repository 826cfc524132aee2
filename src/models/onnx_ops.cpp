#include "models/onnx_ops.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

#include "common/error.h"

namespace paraserve {
namespace {

// Field numbers from onnx.proto (ModelProto.graph, GraphProto.node, NodeProto.op_type/domain/
// attribute, AttributeProto.g/graphs).
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1;
constexpr uint32_t kNodeOpType = 4, kNodeAttribute = 5, kNodeDomain = 7;
constexpr uint32_t kAttrGraph = 6, kAttrGraphs = 11;
constexpr int kMaxDepth = 16;  // nested subgraphs

// One protobuf message: a cursor over (field, wire type, value) records.
class Reader {
 public:
  explicit Reader(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
  bool done() const { return p_ == end_; }

  // Next field; a length-delimited value is returned in `bytes`, others are skipped.
  void next(uint32_t& field, uint32_t& wire, std::string_view& bytes) {
    const uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wire = static_cast<uint32_t>(key & 7);
    bytes = {};
    switch (wire) {
      case 0: varint(); break;
      case 1: skip(8); break;
      case 5: skip(4); break;
      case 2: {
        const uint64_t n = varint();
        if (n > static_cast<uint64_t>(end_ - p_)) throw Error("truncated length-delimited field");
        bytes = std::string_view(p_, static_cast<std::size_t>(n));
        p_ += n;
        break;
      }
      default: throw Error("unsupported protobuf wire type " + std::to_string(wire));
    }
  }

 private:
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) throw Error("truncated varint");
      const auto byte = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    throw Error("varint longer than 10 bytes");
  }
  void skip(std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - p_)) throw Error("truncated fixed-size field");
    p_ += n;
  }
  const char* p_;
  const char* end_;
};

void count_graph(std::string_view graph, OpCounts& out, int depth);

void count_node(std::string_view node, OpCounts& out, int depth) {
  std::string_view op, domain;
  Reader r(node);
  uint32_t field = 0, wire = 0;
  std::string_view bytes;
  while (!r.done()) {
    r.next(field, wire, bytes);
    if (wire != 2) continue;
    if (field == kNodeOpType) op = bytes;
    else if (field == kNodeDomain) domain = bytes;
    else if (field == kNodeAttribute) {
      Reader a(bytes);
      std::string_view g;
      while (!a.done()) {
        a.next(field, wire, g);
        if (wire == 2 && (field == kAttrGraph || field == kAttrGraphs)) count_graph(g, out, depth + 1);
      }
    }
  }
  if (op.empty()) throw Error("a node without op_type");
  std::string key = domain.empty() || domain == "ai.onnx" ? std::string(op) : std::string(domain) + ":" + std::string(op);
  ++out[key];
}

void count_graph(std::string_view graph, OpCounts& out, int depth) {
  if (depth > kMaxDepth) throw Error("subgraphs nested deeper than " + std::to_string(kMaxDepth));
  Reader r(graph);
  uint32_t field = 0, wire = 0;
  std::string_view bytes;
  while (!r.done()) {
    r.next(field, wire, bytes);
    if (field == kGraphNode && wire == 2) count_node(bytes, out, depth);
  }
}

}  // namespace

OpCounts count_onnx_ops(std::string_view model) {
  OpCounts out;
  Reader r(model);
  uint32_t field = 0, wire = 0;
  std::string_view bytes;
  bool graph = false;
  while (!r.done()) {
    r.next(field, wire, bytes);
    if (field == kModelGraph && wire == 2) {
      count_graph(bytes, out, 0);
      graph = true;
    }
  }
  if (!graph) throw Error("no graph in the model");
  return out;
}

OpCounts count_onnx_ops_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    throw Error(path + ": empty or unreadable");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw Error(path + ": cannot map");
  try {
    OpCounts c = count_onnx_ops(std::string_view(static_cast<const char*>(map), size));
    ::munmap(map, size);
    return c;
  } catch (const Error& e) {
    ::munmap(map, size);
    throw Error(path + ": not an ONNX model: " + e.what());
  }
}

}  // namespace paraserve
