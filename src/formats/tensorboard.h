// TensorBoard event files, written without TensorFlow or protobuf: each record is TFRecord-framed
// (length, masked CRC32C of the length, an Event protobuf, masked CRC32C of the data), and the
// Event/Summary messages are encoded by hand (they need only a handful of fields):
//
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace infini {

uint32_t crc32c(std::string_view data);
// TFRecord's masking: rotate right by 15 and add a constant.
uint32_t masked_crc32c(std::string_view data);

// One TFRecord frame around `payload`.
std::string tfrecord_frame(std::string_view payload);
// An Event protobuf carrying one scalar.
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);

class TensorBoardWriter {
 public:
  // Creates `dir` and a new events.out.tfevents.TIME.HOST file in it.
  explicit TensorBoardWriter(const std::string& dir);
  void scalar(const std::string& tag, int64_t step, double value);
  void flush() { out_.flush(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace infini
