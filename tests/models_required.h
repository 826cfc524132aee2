// Tests that need the generated test models (scripts/make-models.sh tiny|behav) skip when the
// models are missing on a developer's machine, but FAIL under CI (environment CI=true, as set by
// .ci/run and by the usual CI services): a CI run without models must not pass by skipping.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace paraserve::testing {

inline bool models_required() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

}  // namespace paraserve::testing

// Use in a test body or SetUp(): `if (!have_models) PARASERVE_MODELS_MISSING("models/behav" << " not generated");`
// Skips the test with `why`, or fails it (fatally) when CI=true.
#define PARASERVE_MODELS_MISSING(why)                                                        \
  {                                                                                          \
    if (!::paraserve::testing::models_required()) {                                          \
      GTEST_SKIP() << why;                                                                   \
    } else {                                                                                 \
      FAIL() << why << " (CI=true: the generated test models are required, scripts/make-models.sh)"; \
    }                                                                                        \
  }
