#include "models/vocab.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace paraserve {

Vocab Vocab::from_tokens(std::vector<std::string> tokens) {
  Vocab v;
  v.tokens_ = std::move(tokens);
  v.ids_.reserve(v.tokens_.size());
  for (std::size_t i = 0; i < v.tokens_.size(); ++i) v.ids_[v.tokens_[i]] = static_cast<int>(i);
  return v;
}

Vocab Vocab::load_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open tokens file");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (expected an array of token strings): " + e.what());
  }
  if (!j.is_array()) throw Error(path + ": expected a JSON array of token strings");
  if (j.empty()) throw Error(path + ": empty token list");
  std::vector<std::string> tokens;
  tokens.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) throw Error(path + ": element " + std::to_string(i) + " is not a string");
    tokens.push_back(j[i].get<std::string>());
  }
  return from_tokens(std::move(tokens));
}

const std::string& Vocab::token(int id) const {
  if (id < 0 || id >= size())
    throw Error("vocab: token id " + std::to_string(id) + " out of range [0," + std::to_string(size()) + ")");
  return tokens_[static_cast<std::size_t>(id)];
}

int Vocab::id(std::string_view token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

}  // namespace paraserve
