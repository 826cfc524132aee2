#include "server/protocol.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "decode/stamp_sents.h"
#include "pipeline/stream_limits.h"

namespace paraserve::server {
namespace {

using nlohmann::json;

// Keys FunASR's Python/HTML5 clients send that the C++ server never reads.
bool is_ignored_key(const std::string& key) {
  return key == "chunk_interval" || key == "encoder_chunk_look_back" ||
         key == "decoder_chunk_look_back" || key == "is_end";
}

std::string expect_type(const json& msg, const char* key, json::value_t type, const char* what) {
  auto it = msg.find(key);
  if (it == msg.end()) return {};
  bool ok = it->type() == type;
  // Integers arrive as signed or unsigned depending on their sign.
  if (type == json::value_t::number_integer) ok = it->is_number_integer();
  if (!ok) return std::string("field '") + key + "' must be " + what + ", got " + it->type_name();
  return {};
}

std::string dump(const json& j) {
  // Raw UTF-8 like FunASR; invalid bytes from a model vocabulary must not throw here.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::optional<Mode> parse_mode(std::string_view mode) {
  if (mode == "offline") return Mode::kOffline;
  if (mode == "online") return Mode::kOnline;
  if (mode == "2pass") return Mode::kTwoPass;
  return std::nullopt;
}

bool is_pcm_format(std::string_view wav_format) { return wav_format == "pcm" || wav_format == "PCM"; }

MessageOutcome apply_text_message(std::string_view text, ClientParams& params) {
  MessageOutcome out;
  json msg = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded()) {
    out.error = "malformed JSON text message (expected a JSON object)";
    out.close = true;
    return out;
  }
  if (!msg.is_object()) {
    out.error = std::string("text message must be a JSON object, got ") + msg.type_name();
    return out;
  }
  static constexpr struct {
    const char* key;
    json::value_t type;
    const char* what;
  } kFields[] = {
      {"mode", json::value_t::string, "a string (\"2pass\", \"online\" or \"offline\")"},
      {"wav_name", json::value_t::string, "a string"},
      {"wav_format", json::value_t::string, "a string (\"pcm\")"},
      {"audio_fs", json::value_t::number_integer, "an integer sample rate"},
      {"hotwords", json::value_t::string, "a string"},
      {"itn", json::value_t::boolean, "a boolean"},
      {"svs_lang", json::value_t::string, "a string"},
      {"svs_itn", json::value_t::boolean, "a boolean"},
      {"is_speaking", json::value_t::boolean, "a boolean"},
      {"is_finished", json::value_t::boolean, "a boolean"},
  };
  for (const auto& f : kFields) {
    out.error = expect_type(msg, f.key, f.type, f.what);
    if (!out.error.empty()) return out;
  }
  if (auto it = msg.find("mode"); it != msg.end() && !parse_mode(it->get_ref<const std::string&>())) {
    out.error = "field 'mode' must be \"2pass\", \"online\" or \"offline\", got \"" +
                it->get<std::string>() + "\"";
    return out;
  }
  if (auto it = msg.find("wav_format"); it != msg.end() && !is_pcm_format(it->get_ref<const std::string&>())) {
    out.error = "field 'wav_format' must be \"pcm\" (only raw 16-bit PCM streams are supported), got \"" +
                it->get<std::string>() + "\"";
    out.close = true;
    return out;
  }
  if (auto it = msg.find("audio_fs"); it != msg.end()) {
    if (auto e = stream_limits::check_audio_fs(it->get<int64_t>()); !e.empty()) {
      out.error = "field '" + e.insert(e.find(' '), "'");
      return out;
    }
  }
  std::optional<ChunkSize> chunk;
  if (auto it = msg.find("chunk_size"); it != msg.end()) {
    const bool ints = it->is_array() && it->size() == 3 &&
                      std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_number_integer(); });
    if (!ints) {
      out.error = "field 'chunk_size' must be an array of 3 integers [left, chunk, right], got " + dump(*it);
      return out;
    }
    const auto l = (*it)[0].get<int64_t>(), c = (*it)[1].get<int64_t>(), r = (*it)[2].get<int64_t>();
    if (auto e = stream_limits::check_chunk_size(l, c, r); !e.empty()) {
      out.error = "field '" + e.insert(e.find(' '), "'");
      return out;
    }
    chunk = ChunkSize{static_cast<int>(l), static_cast<int>(c), static_cast<int>(r)};
  }

  // Everything validated: apply.
  const bool first = !params.hotwords_taken;
  params.configured = true;
  params.hotwords_taken = true;
  for (auto it = msg.begin(); it != msg.end(); ++it) {
    const std::string& key = it.key();
    if (key == "mode") params.mode = it->get<std::string>();
    else if (key == "wav_name") params.wav_name = it->get<std::string>();
    else if (key == "wav_format") params.wav_format = it->get<std::string>();
    else if (key == "audio_fs") params.audio_fs = static_cast<int>(it->get<int64_t>());
    else if (key == "itn") params.itn = it->get<bool>();
    else if (key == "svs_lang") params.svs_lang = it->get<std::string>();
    else if (key == "svs_itn") params.svs_itn = it->get<bool>();
    else if (key == "hotwords" && first) params.hotwords = it->get<std::string>();
    else if (is_ignored_key(key)) continue;
  }
  if (chunk && !params.chunk_taken) {
    params.chunk = chunk;
    params.chunk_taken = true;
  }
  if (auto it = msg.find("is_speaking"); it != msg.end() && !it->get<bool>()) out.end_of_stream = true;
  if (auto it = msg.find("is_finished"); it != msg.end() && it->get<bool>()) out.end_of_stream = true;
  return out;
}

UtteranceSettings ClientParams::settings() const {
  UtteranceSettings s;
  s.chunk = chunk.value_or(kDefaultChunk);
  s.audio_fs = audio_fs;
  s.wav_format = wav_format;
  s.itn = itn;
  s.hotwords = hotwords;
  s.svs_lang = svs_lang;
  s.svs_itn = svs_itn;
  return s;
}

SessionOptions session_options(const UtteranceSettings& s, Mode mode) {
  SessionOptions o;
  o.mode = mode;
  o.chunk = s.chunk;
  o.sample_rate = s.audio_fs;
  o.itn = s.itn;
  o.hotwords = s.hotwords;
  o.wav_format = s.wav_format;
  o.svs_lang = s.svs_lang;
  o.svs_itn = s.svs_itn;
  return o;
}

SessionOptions session_options(const ClientParams& params) {
  return session_options(params.settings(), parse_mode(params.mode).value_or(Mode::kTwoPass));
}

std::string format_result(const StreamResult& r, Mode mode, const std::string& wav_name, ReplyState& st) {
  if (!r.error.empty()) return format_error(wav_name, r.error);
  json j;
  j["text"] = "";
  if (!r.online_text.empty()) {
    j["text"] = r.online_text;
    j["mode"] = "2pass-online";
    j["slice_type"] = 1;
    j["index"] = st.index;
    if (!st.sentence_started) {
      st.start_time = std::max<int64_t>(0, r.vad_start_ms);
      j["slice_type"] = 0;
      st.sentence_started = true;
    }
  }
  st.end_time = std::max<int64_t>(0, r.vad_end_ms);
  if (mode != Mode::kOnline) {
    if (r.has_offline && !r.offline_text.empty()) {
      j["text"] = r.offline_text;
      j["mode"] = "2pass-offline";
      j["start_time"] = st.start_time;
      j["end_time"] = st.end_time;
      j["slice_type"] = 2;
      j["index"] = st.index;
      ++st.index;
      st.sentence_started = false;
    }
  } else if (r.is_final && st.sentence_started) {
    ++st.index;  // online mode: the end of stream still closes the sentence
    st.sentence_started = false;
  }
  if (r.has_timestamps && !r.timestamps.empty()) {
    j["timestamp"] = stamps_to_string(r.timestamps);  // "[[b,e],[b,e]]", ms, no spaces
    json sents = json::array();
    for (const auto& s : r.stamp_sents) {
      json ts = json::array();
      for (const auto& t : s.ts_list) ts.push_back(json::array({t.begin_ms, t.end_ms}));
      sents.push_back({{"text_seg", s.text_seg}, {"punc", s.punc}, {"start", s.start}, {"end", s.end},
                       {"ts_list", std::move(ts)}});
    }
    j["stamp_sents"] = std::move(sents);
  }
  if (!r.is_final && j["text"].get_ref<const std::string&>().empty()) return {};
  j["wav_name"] = wav_name;
  j["is_final"] = r.is_final;
  if (r.is_final) j["is_end"] = true;
  return dump(j);
}

std::string format_error(const std::string& wav_name, const std::string& error) {
  json j;
  j["text"] = "ERROR. " + error;
  j["wav_name"] = wav_name;
  j["is_final"] = true;
  j["is_end"] = true;
  j["error"] = error;
  return dump(j);
}

}  // namespace paraserve::server
