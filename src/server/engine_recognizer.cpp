// Kept in its own object file: programs that use a fake Recognizer do not pull in the engine.
#include <utility>

#include "server/recognizer.h"

namespace paraserve::server {
namespace {

class SessionRecognizer final : public Recognizer {
 public:
  SessionRecognizer(std::shared_ptr<const Engine> engine, const SessionOptions& options)
      : session_(std::move(engine), options) {}
  void set_mode(Mode mode) override { session_.set_mode(mode); }
  void feed(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override { session_.feed(pcm, out); }
  void finish(std::vector<StreamResult>& out) override { session_.finish(out); }
  std::size_t state_bytes() const override { return session_.state_bytes(); }
  std::size_t feed_until_second_pass(std::span<const int16_t> pcm, std::vector<StreamResult>& out) override {
    return session_.feed_until_second_pass(pcm, out);
  }
  bool begin_finish(std::vector<StreamResult>& out) override { return session_.begin_finish(out); }
  bool second_pass_pending() const override { return session_.second_pass_pending(); }
  void run_second_pass(std::vector<StreamResult>& out) override { session_.run_second_pass(out); }

 private:
  StreamSession session_;
};

}  // namespace

RecognizerFactory engine_recognizer_factory(std::shared_ptr<const Engine> engine) {
  return [engine = std::move(engine)](const SessionOptions& options) -> std::unique_ptr<Recognizer> {
    return std::make_unique<SessionRecognizer>(engine, options);
  };
}

}  // namespace paraserve::server
