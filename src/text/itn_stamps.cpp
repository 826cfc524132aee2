#include "text/itn_stamps.h"

#include <algorithm>
#include <string>

#include "decode/stamp_sents.h"

namespace paraserve {

namespace {

// Appends `count` stamps spread evenly over [begin, end] (FunASR's integer arithmetic).
void spread(int64_t begin, int64_t end, int64_t count, std::vector<TokenStamp>& out) {
  const int64_t interval = (end - begin) / count;
  for (int64_t k = 0; k < count; ++k)
    out.push_back({begin + interval * k, k == count - 1 ? end : begin + interval * (k + 1)});
}

}  // namespace

bool smooth_itn_stamps(std::string_view text, std::string_view text_itn, std::span<const TokenStamp> stamps,
                       std::vector<TokenStamp>& out) {
  out.clear();
  if (stamps.empty()) return false;
  std::vector<std::string> a, b;
  split_stamp_units(text, a);
  split_stamp_units(text_itn, b);
  const std::size_t m = a.size(), n = b.size();

  // Edit distance, unit by unit.
  std::vector<int> dp((m + 1) * (n + 1));
  auto at = [&](std::size_t i, std::size_t j) -> int& { return dp[i * (n + 1) + j]; };
  for (std::size_t i = 0; i <= m; ++i) at(i, 0) = static_cast<int>(i);
  for (std::size_t j = 0; j <= n; ++j) at(0, j) = static_cast<int>(j);
  for (std::size_t i = 1; i <= m; ++i)
    for (std::size_t j = 1; j <= n; ++j)
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1)
                                      : std::min({at(i - 1, j), at(i, j - 1), at(i - 1, j - 1)}) + 1;

  // Trace back (built in reverse, then reversed: FunASR pushes to the front). A punctuation
  // unit is not added; the "" of an insertion or deletion always is.
  std::vector<std::string> al, bl;
  auto add = [](std::vector<std::string>& v, const std::string& u) {
    if (!is_stamp_punctuation(u)) v.push_back(u);
  };
  std::size_t i = m, j = n;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && at(i, j) == at(i - 1, j - 1)) {
      add(al, a[i - 1]);
      add(bl, b[j - 1]);
      --i;
      --j;
    } else if (i > 0 && at(i, j) == at(i - 1, j) + 1) {
      add(al, a[i - 1]);
      bl.emplace_back();
      --i;
    } else if (j > 0 && at(i, j) == at(i, j - 1) + 1) {
      al.emplace_back();
      add(bl, b[j - 1]);
      --j;
    } else {
      if (i == 0 || j == 0) return false;
      add(al, a[i - 1]);
      add(bl, b[j - 1]);
      --i;
      --j;
    }
  }
  std::reverse(al.begin(), al.end());
  std::reverse(bl.begin(), bl.end());

  // Smooth.
  int64_t itn_count = 0;
  std::size_t idx_tp = 0, idx_itn = 0;
  std::vector<TokenStamp> tmp;  // stamps of the replaced units of the current run
  for (std::size_t k = 0; k < al.size(); ++k) {
    if (k >= bl.size()) return false;  // FunASR: out-of-range read
    if (al[k] == bl[k]) {
      bool subsidy = false;
      if (itn_count > 0 && tmp.empty()) {
        if (idx_tp >= stamps.size()) return false;
        tmp.push_back(stamps[idx_tp]);
        subsidy = true;
        ++itn_count;
      }
      if (!tmp.empty()) {
        if (itn_count > 0) spread(tmp.front().begin_ms, tmp.back().end_ms, itn_count, out);
        tmp.clear();
      }
      if (!subsidy) {
        if (idx_tp >= stamps.size()) return false;
        out.push_back(stamps[idx_tp]);
      }
      ++idx_tp;
      itn_count = 0;
    } else {
      if (!al[k].empty()) {
        if (idx_tp >= stamps.size()) return false;
        tmp.push_back(stamps[idx_tp]);
        ++idx_tp;
      }
      if (!bl[k].empty()) ++itn_count;
    }
    if (!bl[k].empty()) ++idx_itn;
  }
  if (itn_count > 0 && tmp.empty()) {
    if (out.empty()) return false;  // the last run has no stamp to take
    tmp.push_back(out.back());
    ++itn_count;
    out.pop_back();
  }
  if (!tmp.empty() && itn_count > 0) spread(tmp.front().begin_ms, tmp.back().end_ms, itn_count, out);
  // An empty result prints as "", which FunASR's callers treat as a failure too.
  return out.size() == idx_itn && !out.empty();
}

}  // namespace paraserve
