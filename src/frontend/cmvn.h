// Global CMVN from a FunASR `am.mvn` (Kaldi nnet1 text: <AddShift> and <Rescale> components,
// each followed by a `<LearnRateCoef> c [ v... ]` line). y_j = (x_j + shift_j) * scale_j.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace paraserve {

struct Cmvn {
  std::vector<float> shift;  // negated means
  std::vector<float> scale;  // inverse standard deviations

  // Throws paraserve::Error("<path>: <reason>") for a missing file or malformed content.
  static Cmvn load(const std::string& am_mvn_path);
  // Parses the text of an am.mvn; `name` is used in error messages.
  static Cmvn parse(std::string_view text, const std::string& name);

  std::size_t size() const { return shift.size(); }
  // Throws unless the vectors apply to frames of `dim` floats (size() <= dim).
  void check_dim(int dim, const std::string& what) const;
  // In place on T rows of `dim` floats; columns j >= size() are left unchanged.
  void apply(float* x, int T, int dim) const;
};

}  // namespace paraserve
