// Error type used across paraserve. Messages are meant for users: name the file, the
// field or the limit involved, and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace paraserve {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace paraserve
