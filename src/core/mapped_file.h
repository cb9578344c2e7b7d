// A read-only memory mapping of a whole file (RAII). Pages are read on demand, so a corpus or a
// checkpoint is never loaded whole into RAM.
#pragma once

#include <cstddef>
#include <string>

namespace infini {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // InputError when it cannot be opened
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile& operator=(MappedFile&&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace infini
