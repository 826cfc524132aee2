// The seam between the transport and the speech engine: one Recognizer per connection.
// The server only needs feed/finish; tests plug in a scripted fake, `paraserve serve`
// plugs in StreamSession (engine_recognizer.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "pipeline/engine.h"
#include "pipeline/results.h"
#include "pipeline/session.h"

namespace paraserve::server {

class Recognizer {
 public:
  virtual ~Recognizer() = default;
  virtual void set_mode(Mode mode) = 0;
  virtual void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) = 0;
  virtual void finish(std::vector<StreamResult>& out) = 0;  // last result has is_final = true
  virtual std::size_t state_bytes() const = 0;

  // The same work in steps, so that the server can run second passes as separate,
  // lower-priority tasks (StreamSession::feed_until_second_pass and friends). The defaults
  // suit a recognizer without a second pass: everything at once, never pending.
  virtual std::size_t feed_until_second_pass(std::span<const int16_t> pcm, std::vector<StreamResult>& out) {
    feed(pcm, out);
    return pcm.size();
  }
  virtual bool begin_finish(std::vector<StreamResult>& out) {
    finish(out);
    return true;
  }
  virtual bool second_pass_pending() const { return false; }
  virtual void run_second_pass(std::vector<StreamResult>& /*out*/) {}
};

// Called on a worker thread when a connection's first audio (or end of stream) arrives.
using RecognizerFactory = std::function<std::unique_ptr<Recognizer>(const SessionOptions&)>;

// StreamSession-backed recognizers sharing one loaded engine.
RecognizerFactory engine_recognizer_factory(std::shared_ptr<const Engine> engine);

}  // namespace paraserve::server
