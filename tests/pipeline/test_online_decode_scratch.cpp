// The streaming decoder's output (N x vocabulary logits + the new FSMN caches) is borrowed per
// decoder call from the engine's pool (OnlineAsrStream::DecodeScratchPool) instead of being a
// per-session buffer: sessions that decode one after the other share one buffer set, and a
// session's own state does not hold logits.
#include <gtest/gtest.h>

#include "../models_required.h"
#include "behav_util.h"

#include <filesystem>

#include "pipeline/engine.h"
#include "pipeline/engine_impl.h"
#include "pipeline/session.h"

namespace paraserve {
namespace {

TEST(OnlineDecodeScratch, SessionsBorrowTheDecoderOutputFromOnePool) {
  const std::string dir = testing::behav_dir();
  if (!std::filesystem::exists(dir + "/vad")) PARASERVE_MODELS_MISSING("models/behav not generated");
  auto engine = load_engine(testing::behav_engine_config());
  ASSERT_EQ(engine->online_decode_scratch->idle(), 0u);
  const auto audio = testing::read_wav_s16(dir + "/audio/one_sentence.wav");
  const std::size_t vocab_bytes = static_cast<std::size_t>(engine->online->vocab_size()) * sizeof(float);
  const std::size_t cache_bytes = static_cast<std::size_t>(engine->online->num_caches()) *
                                  static_cast<std::size_t>(engine->online->cache_floats()) * sizeof(float);

  for (int session = 0; session < 3; ++session) {
    StreamSession s(engine, {});
    std::vector<StreamResult> out;
    s.feed(audio.samples, out);
    std::string online;
    for (const auto& r : out) online += r.online_text;
    ASSERT_FALSE(online.empty()) << "the decoder never ran";
    // One set, borrowed and returned by every call of every session.
    EXPECT_EQ(engine->online_decode_scratch->idle(), 1u);
    // The session's state: caches, carries, overlap frames; not even one token's logits twice.
    EXPECT_LT(s.state_bytes(), cache_bytes + 2 * vocab_bytes + (1u << 20));
    out.clear();
    s.finish(out);
  }
  EXPECT_EQ(engine->online_decode_scratch->idle(), 1u);
}

}  // namespace
}  // namespace paraserve
