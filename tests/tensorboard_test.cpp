// TensorBoard event files: CRC32C and TFRecord framing against known values, events decoded
// back field by field.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "test_support.h"
#include "formats/tensorboard.h"

using namespace infini;

namespace {

uint64_t little_endian(const std::string& bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

// Splits a file of TFRecord frames, checking both CRCs of each.
std::vector<std::string> read_frames(const std::string& data) {
  std::vector<std::string> frames;
  size_t at = 0;
  while (at < data.size()) {
    const uint64_t length = little_endian(data, at, 8);
    EXPECT_EQ(little_endian(data, at + 8, 4), masked_crc32c(data.substr(at, 8)));
    auto payload = data.substr(at + 12, length);
    EXPECT_EQ(little_endian(data, at + 12 + length, 4), masked_crc32c(payload));
    frames.push_back(payload);
    at += 12 + length + 4;
  }
  return frames;
}

}  // namespace

TEST(TensorBoard, Crc32cKnownValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the standard check value of CRC-32C
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
}

TEST(TensorBoard, ScalarEventEncodesTagStepAndValue) {
  const auto event = scalar_event(1.5, 300, "train/loss", 2.25f);
  // wall_time: key 0x09 then 8 bytes of the double
  ASSERT_EQ(static_cast<unsigned char>(event[0]), 0x09);
  double wall = 0;
  std::memcpy(&wall, event.data() + 1, 8);
  EXPECT_EQ(wall, 1.5);
  // step: key 0x10, varint 300 = 0xAC 0x02
  EXPECT_EQ(static_cast<unsigned char>(event[9]), 0x10);
  EXPECT_EQ(static_cast<unsigned char>(event[10]), 0xAC);
  EXPECT_EQ(static_cast<unsigned char>(event[11]), 0x02);
  // summary (field 5, length-delimited) holding value (field 1) holding tag and simple_value
  EXPECT_EQ(static_cast<unsigned char>(event[12]), 0x2A);
  EXPECT_EQ(static_cast<size_t>(event[13]), event.size() - 14);
  EXPECT_EQ(static_cast<unsigned char>(event[14]), 0x0A);
  EXPECT_EQ(static_cast<size_t>(event[15]), event.size() - 16);
  const std::string value = event.substr(16);
  EXPECT_EQ(value.substr(0, 2), std::string("\x0A\x0A", 2));  // tag, 10 bytes
  EXPECT_EQ(value.substr(2, 10), "train/loss");
  EXPECT_EQ(static_cast<unsigned char>(value[12]), 0x15);  // simple_value, fixed32
  float simple = 0;
  std::memcpy(&simple, value.data() + 13, 4);
  EXPECT_EQ(simple, 2.25f);
}

TEST(TensorBoard, WriterFramesAVersionEventThenScalars) {
  test::TempDir dir;
  std::string path;
  {
    TensorBoardWriter writer(dir / "tb");
    writer.scalar("train/loss", 1, 3.0);
    writer.scalar("train/loss", 2, 2.5);
    path = writer.path();
  }
  const auto frames = read_frames(test::read_text(path));
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_NE(frames[0].find("brain.Event:2"), std::string::npos);
  EXPECT_NE(frames[2].find("train/loss"), std::string::npos);
}
