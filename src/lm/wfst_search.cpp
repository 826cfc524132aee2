#include "lm/wfst_search.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"
#include "lm/bias_lm.h"

namespace paraserve::lm {

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
}

void SearchOptions::validate() const {
  auto positive = [](float v, const char* name) {
    if (!(v > 0.0f) || !std::isfinite(v))
      throw Error(std::string(name) + " must be a positive number, got " + std::to_string(v));
  };
  positive(beam, "--global-beam");
  positive(lattice_beam, "--lattice-beam");
  positive(am_scale, "--am-scale");
  if (max_active <= 1) throw Error("LM search max_active must be > 1");
  if (min_active < 0 || min_active > max_active) throw Error("LM search min_active must be in [0, max_active]");
  positive(beam_delta, "LM search beam_delta");
  if (!(hash_ratio >= 1.0f)) throw Error("LM search hash_ratio must be >= 1");
}

void WfstSearch::clear_hash() {
  for (int32_t b = bucket_list_tail_; b != -1; b = buckets_[static_cast<std::size_t>(b)].prev_bucket)
    buckets_[static_cast<std::size_t>(b)].last = -1;
  bucket_list_tail_ = -1;
  list_head_ = -1;
  elems_.clear();
}

int32_t WfstSearch::find_or_add(int32_t state, float cost, int32_t prev_trace, int32_t olabel, int32_t bias_state,
                                bool* changed) {
  const std::size_t index = static_cast<std::size_t>(state) % hash_size_;
  Bucket& bucket = buckets_[index];
  if (bucket.last != -1) {
    int32_t e = bucket.prev_bucket == -1 ? list_head_
                                         : elems_[static_cast<std::size_t>(buckets_[static_cast<std::size_t>(bucket.prev_bucket)].last)].tail;
    const int32_t end = elems_[static_cast<std::size_t>(bucket.last)].tail;
    for (; e != end; e = elems_[static_cast<std::size_t>(e)].tail) {
      if (elems_[static_cast<std::size_t>(e)].state != state) continue;
      Token& tok = toks_[static_cast<std::size_t>(elems_[static_cast<std::size_t>(e)].tok)];
      if (tok.cost > cost) {  // a better path to this state: replace cost, back-pointer, bias state
        tok.cost = cost;
        tok.bias_state = bias_state;
        trace_[static_cast<std::size_t>(tok.trace)] = {prev_trace, olabel};
        if (changed) *changed = true;
      } else if (changed) {
        *changed = false;
      }
      return e;
    }
  }
  const int32_t tok_index = static_cast<int32_t>(toks_.size());
  const int32_t trace_index = static_cast<int32_t>(trace_.size());
  trace_.push_back({prev_trace, olabel});
  toks_.push_back({cost, state, trace_index, bias_state});
  const int32_t elem = static_cast<int32_t>(elems_.size());
  elems_.push_back({state, tok_index, -1});
  if (bucket.last == -1) {
    if (bucket_list_tail_ == -1) list_head_ = elem;
    else elems_[static_cast<std::size_t>(buckets_[static_cast<std::size_t>(bucket_list_tail_)].last)].tail = elem;
    bucket.last = elem;
    bucket.prev_bucket = bucket_list_tail_;
    bucket_list_tail_ = static_cast<int32_t>(index);
  } else {
    elems_[static_cast<std::size_t>(elem)].tail = elems_[static_cast<std::size_t>(bucket.last)].tail;
    elems_[static_cast<std::size_t>(bucket.last)].tail = elem;
    bucket.last = elem;
  }
  if (changed) *changed = true;
  return elem;
}

void WfstSearch::init(const Graph& graph) {
  toks_.clear();
  prev_toks_.clear();
  trace_.clear();
  queue_.clear();
  active_counts_.clear();
  hash_size_ = 1000;
  if (buckets_.size() < hash_size_) buckets_.resize(hash_size_);
  clear_hash();
  prev_elems_.clear();
  prev_list_head_ = -1;
  const int32_t start = graph.Start();
  find_or_add(start, 0.0f, -1, 0, 0, nullptr);
}

// Kaldi's GetCutoff over the previous frame's tokens (in hash-list order).
float WfstSearch::get_cutoff(const SearchOptions& o, float* adaptive_beam, int32_t* best_elem) {
  float best = kInf;
  *best_elem = -1;
  if (o.max_active == std::numeric_limits<int>::max() && o.min_active == 0) {
    for (int32_t e = prev_list_head_; e != -1; e = prev_elems_[static_cast<std::size_t>(e)].tail) {
      const float w = prev_toks_[static_cast<std::size_t>(prev_elems_[static_cast<std::size_t>(e)].tok)].cost;
      if (w < best) { best = w; *best_elem = e; }
    }
    *adaptive_beam = o.beam;
    return best + o.beam;
  }
  tmp_costs_.clear();
  for (int32_t e = prev_list_head_; e != -1; e = prev_elems_[static_cast<std::size_t>(e)].tail) {
    const float w = prev_toks_[static_cast<std::size_t>(prev_elems_[static_cast<std::size_t>(e)].tok)].cost;
    tmp_costs_.push_back(w);
    if (w < best) { best = w; *best_elem = e; }
  }
  const float beam_cutoff = best + o.beam;
  float min_active_cutoff = kInf, max_active_cutoff = kInf;
  const std::size_t n = tmp_costs_.size();
  const auto max_a = static_cast<std::size_t>(o.max_active), min_a = static_cast<std::size_t>(o.min_active);
  if (n > max_a) {
    std::nth_element(tmp_costs_.begin(), tmp_costs_.begin() + static_cast<std::ptrdiff_t>(max_a), tmp_costs_.end());
    max_active_cutoff = tmp_costs_[max_a];
  }
  if (max_active_cutoff < beam_cutoff) {
    *adaptive_beam = max_active_cutoff - best + o.beam_delta;
    return max_active_cutoff;
  }
  if (n > min_a) {
    if (min_a == 0) {
      min_active_cutoff = best;
    } else {
      std::nth_element(tmp_costs_.begin(), tmp_costs_.begin() + static_cast<std::ptrdiff_t>(min_a),
                       n > max_a ? tmp_costs_.begin() + static_cast<std::ptrdiff_t>(max_a) : tmp_costs_.end());
      min_active_cutoff = tmp_costs_[min_a];
    }
  }
  if (min_active_cutoff > beam_cutoff) {
    *adaptive_beam = min_active_cutoff - best + o.beam_delta;
    return min_active_cutoff;
  }
  *adaptive_beam = o.beam;
  return beam_cutoff;
}

float WfstSearch::process_emitting(const Graph& graph, const float* row, int vocab, const SearchOptions& o,
                                   const BiasLm* bias) {
  // The current frame's tokens become the previous frame's; the hash starts empty.
  prev_toks_.swap(toks_);
  toks_.clear();
  prev_elems_.swap(elems_);
  prev_list_head_ = list_head_;
  clear_hash();

  float adaptive_beam = 0.0f;
  int32_t best_elem = -1;
  const float cur_cutoff = get_cutoff(o, &adaptive_beam, &best_elem);
  {
    std::size_t count = 0;
    for (int32_t e = prev_list_head_; e != -1; e = prev_elems_[static_cast<std::size_t>(e)].tail) ++count;
    const auto new_size = static_cast<std::size_t>(static_cast<float>(count) * o.hash_ratio);
    if (new_size > hash_size_) {
      hash_size_ = new_size;
      if (buckets_.size() < hash_size_) buckets_.resize(hash_size_);
    }
  }
  const auto loglike = [&](int label) { return o.am_scale * row[label - 1]; };
  const auto vocab_ok = [vocab](int label) { return label - 1 < vocab; };

  float next_cutoff = kInf;
  float cost_offset = 0.0f;
  if (best_elem != -1) {
    const Elem& be = prev_elems_[static_cast<std::size_t>(best_elem)];
    const Token& tok = prev_toks_[static_cast<std::size_t>(be.tok)];
    cost_offset = -tok.cost;
    for (fst::ArcIterator<Graph> it(graph, be.state); !it.Done(); it.Next()) {
      const fst::StdArc& arc = it.Value();
      if (arc.ilabel == 0 || arc.nextstate == be.state || !vocab_ok(arc.ilabel)) continue;
      const float new_weight = arc.weight.Value() + cost_offset - loglike(arc.ilabel) + tok.cost;
      if (new_weight + adaptive_beam < next_cutoff) next_cutoff = new_weight + adaptive_beam;
    }
  }

  for (int32_t e = prev_list_head_; e != -1; e = prev_elems_[static_cast<std::size_t>(e)].tail) {
    const Elem pe = prev_elems_[static_cast<std::size_t>(e)];
    const Token tok = prev_toks_[static_cast<std::size_t>(pe.tok)];
    if (!(tok.cost <= cur_cutoff)) continue;
    for (fst::ArcIterator<Graph> it(graph, pe.state); !it.Done(); it.Next()) {
      const fst::StdArc& arc = it.Value();
      // FunASR's decoder never takes a self-loop on an emitting step: a Paraformer row is one
      // token, so the CTC topology's blank and repeat loops are skipped.
      if (arc.ilabel == 0 || arc.nextstate == pe.state || !vocab_ok(arc.ilabel)) continue;
      int32_t new_bias_state = 0;
      const float ac_cost = cost_offset - loglike(arc.ilabel);
      float graph_cost = arc.weight.Value();
      const float cur_cost = tok.cost;
      float tot_cost = cur_cost + ac_cost + graph_cost;
      if (bias) {
        float bias_score = 0.0f;
        if (arc.ilabel - 1 == 0) new_bias_state = tok.bias_state;  // blank keeps the bias state
        else bias_score = bias->score(tok.bias_state, arc.ilabel - 1, new_bias_state);
        graph_cost -= bias_score;
        tot_cost -= bias_score;
      }
      if (tot_cost >= next_cutoff) continue;
      if (tot_cost + adaptive_beam < next_cutoff) next_cutoff = tot_cost + adaptive_beam;
      find_or_add(arc.nextstate, tot_cost, tok.trace, arc.olabel, new_bias_state, nullptr);
    }
  }
  return next_cutoff;
}

void WfstSearch::process_nonemitting(const Graph& graph, float cutoff) {
  queue_.clear();
  for (int32_t e = list_head_; e != -1; e = elems_[static_cast<std::size_t>(e)].tail)
    if (graph.NumInputEpsilons(elems_[static_cast<std::size_t>(e)].state) != 0) queue_.push_back(e);
  while (!queue_.empty()) {
    const int32_t e = queue_.back();
    queue_.pop_back();
    const int32_t state = elems_[static_cast<std::size_t>(e)].state;
    const int32_t tok_index = elems_[static_cast<std::size_t>(e)].tok;
    const float cur_cost = toks_[static_cast<std::size_t>(tok_index)].cost;
    if (cur_cost >= cutoff) continue;
    for (fst::ArcIterator<Graph> it(graph, state); !it.Done(); it.Next()) {
      const fst::StdArc& arc = it.Value();
      if (arc.ilabel != 0) continue;
      const float tot_cost = cur_cost + arc.weight.Value();
      if (!(tot_cost < cutoff)) continue;
      bool changed = false;
      const Token& tok = toks_[static_cast<std::size_t>(tok_index)];
      const int32_t trace = tok.trace, bias_state = tok.bias_state;
      const int32_t e_new = find_or_add(arc.nextstate, tot_cost, trace, arc.olabel, bias_state, &changed);
      if (changed && graph.NumInputEpsilons(arc.nextstate) != 0) queue_.push_back(e_new);
    }
  }
}

bool WfstSearch::decode(const Graph& graph, const float* logp, int rows, int vocab, const SearchOptions& options,
                        const BiasLm* bias, std::vector<int>& words) {
  words.clear();
  if (rows <= 0 || graph.Start() == fst::kNoStateId) return false;
  init(graph);
  process_nonemitting(graph, options.beam);
  for (int f = 0; f < rows; ++f) {
    const float cutoff = process_emitting(graph, logp + static_cast<std::size_t>(f) * static_cast<std::size_t>(vocab),
                                          vocab, options, bias);
    process_nonemitting(graph, cutoff);
    active_counts_.push_back(static_cast<int>(toks_.size()));
  }
  // Best final token (Kaldi's BestPathEnd with final probs): if any surviving token is in a
  // final state, only those count, with their final cost; otherwise the cheapest token.
  // Tokens are scanned newest first, as Kaldi's per-frame token list; the first strict
  // minimum wins.
  bool any_final = false;
  for (const Token& t : toks_)
    if (graph.Final(t.state) != fst::TropicalWeight::Zero()) { any_final = true; break; }
  float best_cost = kInf;
  int32_t best_trace = -1;
  for (auto it = toks_.rbegin(); it != toks_.rend(); ++it) {
    float cost = it->cost;
    if (any_final) {
      const float fin = graph.Final(it->state).Value();
      cost = fin == kInf ? kInf : cost + fin;
    }
    if (cost < best_cost) {
      best_cost = cost;
      best_trace = it->trace;
    }
  }
  if (best_trace < 0) return false;
  for (int32_t t = best_trace; t != -1; t = trace_[static_cast<std::size_t>(t)].prev)
    if (trace_[static_cast<std::size_t>(t)].olabel != 0) words.push_back(trace_[static_cast<std::size_t>(t)].olabel);
  std::reverse(words.begin(), words.end());
  return true;
}

std::size_t WfstSearch::bytes() const {
  auto cap = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  return cap(toks_) + cap(prev_toks_) + cap(elems_) + cap(prev_elems_) + cap(buckets_) +
         cap(trace_) + cap(queue_) + cap(tmp_costs_) + cap(active_counts_);
}

void WfstSearch::shrink_to(std::size_t max_bytes) {
  if (bytes() <= max_bytes) return;
  *this = WfstSearch();
}

}  // namespace paraserve::lm
