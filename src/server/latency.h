// Client-side latency measurement for `paraserve client --latency` (docs/performance.md,
// "Capacity"). Server-agnostic: it uses only what every FunASR-protocol server sends (reply
// order, `mode`, `is_final`, `text`) and the client's own clock, so the same code measures
// paraserve and FunASR.
//
// A reply does not say which audio it covers, but for one audio file, chunk size and model set
// the sequence of replies is fixed (FunASR decodes per 50 ms piece of received audio, whatever
// the timing). So one unloaded calibration stream, paced SLOWER than real time, learns for the
// k-th reply the audio position that had been sent when it arrived (its reference position);
// under load, reply k of a stream is timed against the moment this stream sent that position:
//   partial lag    = arrival of the k-th `2pass-online` reply - send time of the audio frame
//                    holding its reference position;
//   final latency  = the same for each mid-stream `2pass-offline` reply (the VAD end point is the
//                    reference), and arrival of the `is_final` reply - sending of the end-of-speech
//                    message for the end of the stream.
// The reference can overshoot the audio that really triggered a reply by the unloaded processing
// delay times the calibration speed (plus up to one frame); at calibration speed 0.25 a reply
// that takes 400 ms unloaded is referenced at most 100 ms (+1 frame) late, so lags are
// underestimated by at most that much.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "server/client.h"

namespace paraserve::server {

struct ReplyEvent {
  std::string mode;         // "2pass-online", "2pass-offline" or "" (empty final reply)
  std::string text;
  bool is_final = false;
  double arrival_s = 0;     // seconds since the stream's first message
  std::size_t samples_sent = 0;  // audio samples written when it arrived
};

// What one stream recorded (all times in seconds since its first message).
struct StreamTimeline {
  std::size_t frame_samples = 0;     // samples per audio frame (the last one may be shorter)
  std::vector<double> frame_sent_s;  // when each audio frame was written
  double end_sent_s = -1;            // when the end-of-speech message was written (-1: never)
  std::vector<ReplyEvent> replies;
  std::string error;                 // transport error, timeout, error reply
  bool got_final = false;
};

StreamTimeline timeline_of(const ClientUtterance& u);

// Reference per reply, learnt from the unloaded stream.
struct ReplyReference {
  std::string mode;
  std::string text;
  bool is_final = false;
  std::size_t ref_samples = 0;  // reference audio position (samples sent at arrival when unloaded)
};
struct Calibration {
  std::vector<ReplyReference> replies;
  std::string error;  // the calibration stream itself failed
};

Calibration calibrate(const StreamTimeline& unloaded);
std::string calibration_to_json(const Calibration& c);
// Throws paraserve::Error on malformed input.
Calibration calibration_from_json(const std::string& text);

// Send time of the frame holding sample `pos - 1` (the frame that completed `pos` samples);
// pos 0 -> the first frame. Returns -1 when that frame was never sent.
double send_time_of(const StreamTimeline& t, std::size_t pos);

struct StreamLatency {
  std::vector<double> partial_lag_s;
  std::vector<double> final_latency_s;
  std::string error;        // empty when the stream is fine
  int early_replies = 0;    // replies that arrived before their reference audio was sent (lag set to 0)
  int text_mismatches = 0;  // same reply kinds as the calibration, other text (not an error)
};

// Times `loaded` against `cal`. A reply sequence that differs from the calibration in count,
// mode or is_final is an error (the replies up to the first difference are still timed).
StreamLatency measure_stream(const Calibration& cal, const StreamTimeline& loaded);

struct Percentiles {
  std::size_t count = 0;
  double p50 = -1, p95 = -1, max = -1;  // -1 when count == 0
};
// Nearest-rank percentiles (p95 = the smallest value >= 95 % of the values).
Percentiles percentiles(std::vector<double> values);

struct LatencySummary {
  int streams = 0;
  int errors = 0;  // streams with an error
  std::vector<std::string> error_messages;  // first few, "stream i: ..."
  Percentiles partial_lag, final_latency;
  int early_replies = 0;
  int text_mismatches = 0;
};
LatencySummary summarize(const std::vector<StreamLatency>& streams);
// One JSON object (keys listed in docs/performance.md, "Capacity").
std::string summary_to_json(const LatencySummary& s);
// Human-readable lines.
std::string summary_to_text(const LatencySummary& s);

}  // namespace paraserve::server
