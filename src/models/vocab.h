// tokens.json: a JSON array of strings, index = token id (FunASR vocab.cpp / tokenizer.cpp).
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace paraserve {

class Vocab {
 public:
  // Throws paraserve::Error naming the file (missing, not JSON, not an array of strings, empty).
  static Vocab load_json(const std::string& tokens_json);
  static Vocab from_tokens(std::vector<std::string> tokens);

  int size() const { return static_cast<int>(tokens_.size()); }
  const std::string& token(int id) const;  // throws paraserve::Error when out of range
  int id(std::string_view token) const;    // -1 if absent; duplicates: the last id wins (as FunASR)
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> ids_;
};

}  // namespace paraserve
