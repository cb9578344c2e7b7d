#include "eval/provenance.h"

#include <ctime>
#include <filesystem>

#include "core/files.h"
#include "core/invocation.h"

namespace infini {

namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

int64_t checkpoint_step(const std::string& checkpoint) {
  const auto state = std::filesystem::path(checkpoint) / "trainer_state.json";
  if (!std::filesystem::exists(state)) return -1;
  const auto json = read_json_file(state.string());
  return json.contains("step") && json["step"].is_number_integer() ? json["step"].get<int64_t>() : -1;
}

}  // namespace

Provenance provenance_of(const std::string& checkpoint, const std::string& data_fingerprint) {
  return {invocation_command(), invocation_program(), utc_now(), checkpoint_step(checkpoint), data_fingerprint};
}

}  // namespace infini
