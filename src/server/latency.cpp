#include "server/latency.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace paraserve::server {
using nlohmann::json;

StreamTimeline timeline_of(const ClientUtterance& u) {
  StreamTimeline t;
  t.frame_samples = u.frame_samples;
  t.frame_sent_s = u.frame_sent_s;
  t.end_sent_s = u.end_sent_s;
  t.error = u.error;
  t.got_final = u.got_final;
  t.replies.reserve(u.replies.size());
  for (std::size_t i = 0; i < u.replies.size(); ++i) {
    ReplyEvent e;
    const json j = json::parse(u.replies[i], nullptr, false);
    if (j.is_object()) {
      if (j.contains("mode") && j["mode"].is_string()) e.mode = j["mode"].get<std::string>();
      if (j.contains("text") && j["text"].is_string()) e.text = j["text"].get<std::string>();
      if (j.contains("is_final") && j["is_final"].is_boolean()) e.is_final = j["is_final"].get<bool>();
    } else if (t.error.empty()) {
      t.error = "reply " + std::to_string(i) + " is not a JSON object";
    }
    if (i < u.reply_s.size()) e.arrival_s = u.reply_s[i];
    if (i < u.reply_samples_sent.size()) e.samples_sent = u.reply_samples_sent[i];
    t.replies.push_back(std::move(e));
  }
  return t;
}

Calibration calibrate(const StreamTimeline& unloaded) {
  Calibration c;
  if (!unloaded.error.empty()) c.error = "calibration stream failed: " + unloaded.error;
  else if (!unloaded.got_final) c.error = "calibration stream got no final reply";
  c.replies.reserve(unloaded.replies.size());
  for (const auto& r : unloaded.replies) c.replies.push_back({r.mode, r.text, r.is_final, r.samples_sent});
  return c;
}

std::string calibration_to_json(const Calibration& c) {
  json arr = json::array();
  for (const auto& r : c.replies)
    arr.push_back({{"mode", r.mode}, {"text", r.text}, {"is_final", r.is_final}, {"ref_samples", r.ref_samples}});
  json j = {{"replies", arr}};
  if (!c.error.empty()) j["error"] = c.error;
  return j.dump(1);
}

Calibration calibration_from_json(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("replies") || !j["replies"].is_array())
    throw Error("calibration: expected a JSON object with a 'replies' array");
  Calibration c;
  try {
    for (const auto& r : j["replies"])
      c.replies.push_back({r.at("mode").get<std::string>(), r.at("text").get<std::string>(), r.at("is_final").get<bool>(),
                           r.at("ref_samples").get<std::size_t>()});
    if (j.contains("error")) c.error = j["error"].get<std::string>();
  } catch (const json::exception& e) {
    throw Error(std::string("calibration: malformed reply entry: ") + e.what());
  }
  return c;
}

double send_time_of(const StreamTimeline& t, std::size_t pos) {
  if (t.frame_samples == 0 || t.frame_sent_s.empty()) return -1;
  const std::size_t frame = pos == 0 ? 0 : (pos - 1) / t.frame_samples;
  if (frame >= t.frame_sent_s.size()) return -1;
  return t.frame_sent_s[frame];
}

StreamLatency measure_stream(const Calibration& cal, const StreamTimeline& loaded) {
  StreamLatency s;
  if (!loaded.error.empty()) s.error = loaded.error;
  else if (!loaded.got_final) s.error = "no final reply";
  const std::size_t n = std::min(cal.replies.size(), loaded.replies.size());
  std::size_t k = 0;
  for (; k < n; ++k) {
    const ReplyReference& ref = cal.replies[k];
    const ReplyEvent& got = loaded.replies[k];
    if (ref.mode != got.mode || ref.is_final != got.is_final) {
      if (s.error.empty())
        s.error = "reply " + std::to_string(k) + " is '" + got.mode + (got.is_final ? "' final" : "'") +
                  ", the calibration had '" + ref.mode + (ref.is_final ? "' final" : "'");
      break;
    }
    if (ref.text != got.text) ++s.text_mismatches;
    double since;  // the reference moment of this reply in this stream
    if (got.is_final) {
      since = loaded.end_sent_s;
    } else {
      since = send_time_of(loaded, ref.ref_samples);
    }
    double v = got.arrival_s - since;
    if (since < 0 || v < 0) {  // the reference audio was not sent yet: earlier than unloaded
      ++s.early_replies;
      v = 0;
    }
    if (got.is_final || got.mode == "2pass-offline") s.final_latency_s.push_back(v);
    else if (got.mode == "2pass-online") s.partial_lag_s.push_back(v);
  }
  if (k == n && cal.replies.size() != loaded.replies.size() && s.error.empty())
    s.error = std::to_string(loaded.replies.size()) + " replies, the calibration had " +
              std::to_string(cal.replies.size());
  return s;
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    std::size_t r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    r = std::clamp<std::size_t>(r, 1, v.size());
    return v[r - 1];
  };
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.max = v.back();
  return p;
}

LatencySummary summarize(const std::vector<StreamLatency>& streams) {
  LatencySummary s;
  s.streams = static_cast<int>(streams.size());
  std::vector<double> lag, fin;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& st = streams[i];
    lag.insert(lag.end(), st.partial_lag_s.begin(), st.partial_lag_s.end());
    fin.insert(fin.end(), st.final_latency_s.begin(), st.final_latency_s.end());
    s.early_replies += st.early_replies;
    s.text_mismatches += st.text_mismatches;
    if (!st.error.empty()) {
      ++s.errors;
      if (s.error_messages.size() < 5) s.error_messages.push_back("stream " + std::to_string(i) + ": " + st.error);
    }
  }
  s.partial_lag = percentiles(std::move(lag));
  s.final_latency = percentiles(std::move(fin));
  return s;
}

namespace {
json pct_json(const Percentiles& p) {
  auto ms = [](double v) { return v < 0 ? json(nullptr) : json(std::round(v * 10000.0) / 10.0); };
  return {{"count", p.count}, {"p50_ms", ms(p.p50)}, {"p95_ms", ms(p.p95)}, {"max_ms", ms(p.max)}};
}
}  // namespace

std::string summary_to_json(const LatencySummary& s) {
  json j = {{"streams", s.streams},
            {"errors", s.errors},
            {"error_messages", s.error_messages},
            {"partial_lag", pct_json(s.partial_lag)},
            {"final_latency", pct_json(s.final_latency)},
            {"early_replies", s.early_replies},
            {"text_mismatches", s.text_mismatches}};
  return j.dump();
}

std::string summary_to_text(const LatencySummary& s) {
  char buf[512];
  auto line = [&](const char* name, const Percentiles& p) {
    std::snprintf(buf, sizeof buf, "%s: n=%zu p50=%.0f ms p95=%.0f ms max=%.0f ms\n", name, p.count, p.p50 * 1000,
                  p.p95 * 1000, p.max * 1000);
    return std::string(buf);
  };
  std::string out = line("partial lag", s.partial_lag) + line("final latency", s.final_latency);
  std::snprintf(buf, sizeof buf, "streams=%d errors=%d early_replies=%d text_mismatches=%d\n", s.streams, s.errors,
                s.early_replies, s.text_mismatches);
  out += buf;
  for (const auto& e : s.error_messages) out += "error: " + e + "\n";
  return out;
}

}  // namespace paraserve::server
