#include "fas/text/sentencepiece.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "fas/core/error.h"
#include "spm_shim/spm_shim.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

struct Shim {
  std::string path;
  decltype(&fas_spm_train) train;
  decltype(&fas_spm_load) load;
  decltype(&fas_spm_destroy) destroy;
  decltype(&fas_spm_encode) encode;
  decltype(&fas_spm_encode_pieces) encode_pieces;
  decltype(&fas_spm_decode) decode;
  decltype(&fas_spm_piece_size) piece_size;
  decltype(&fas_spm_piece_to_id) piece_to_id;
  decltype(&fas_spm_id_to_piece) id_to_piece;
  decltype(&fas_spm_special_id) special_id;
  decltype(&fas_spm_free) free;
};

std::vector<std::string> Candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("FAS_SPM_SHIM")) c.emplace_back(env);
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    const fs::path dir = fs::path(exe).parent_path();
    c.push_back((dir / "libfas_spm_shim.so").string());
    c.push_back((dir / ".." / "lib" / "libfas_spm_shim.so").string());
  }
  c.emplace_back(FAS_SPM_SHIM_BUILD_PATH);
  return c;
}

template <class F>
void Resolve(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (fn == nullptr) throw IoError(std::string("sentencepiece shim lacks symbol ") + name);
}

const Shim& GetShim() {
  static std::once_flag once;
  static Shim shim;
  static std::string failure;
  std::call_once(once, [] {
    std::ostringstream tried;
    for (const auto& p : Candidates()) {
      if (!fs::exists(p)) {
        tried << " " << p;
        continue;
      }
      void* lib = dlmopen(LM_ID_NEWLM, p.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) {
        failure = std::string("cannot load the sentencepiece shim ") + p + ": " + dlerror();
        return;
      }
      shim.path = p;
      Resolve(lib, "fas_spm_train", shim.train);
      Resolve(lib, "fas_spm_load", shim.load);
      Resolve(lib, "fas_spm_destroy", shim.destroy);
      Resolve(lib, "fas_spm_encode", shim.encode);
      Resolve(lib, "fas_spm_encode_pieces", shim.encode_pieces);
      Resolve(lib, "fas_spm_decode", shim.decode);
      Resolve(lib, "fas_spm_piece_size", shim.piece_size);
      Resolve(lib, "fas_spm_piece_to_id", shim.piece_to_id);
      Resolve(lib, "fas_spm_id_to_piece", shim.id_to_piece);
      Resolve(lib, "fas_spm_special_id", shim.special_id);
      Resolve(lib, "fas_spm_free", shim.free);
      return;
    }
    failure = "libfas_spm_shim.so not found (looked at" + tried.str() +
              "); rebuild with scripts/build.sh or set FAS_SPM_SHIM to its path";
  });
  if (!failure.empty()) throw IoError(failure);
  return shim;
}

}  // namespace

std::string SentencePieceShimPath() { return GetShim().path; }

void SentencePiece::Train(const SentencePieceTrainOptions& o) {
  if (!fs::is_regular_file(o.input)) throw IoError("tokenizer training text not found: " + o.input);
  if (o.vocab_size < 8) throw ConfigError("tokenizer vocab_size must be at least 8, got " + std::to_string(o.vocab_size));
  std::ostringstream args;
  args << "--input=" << o.input << " --model_prefix=" << o.model_prefix << " --vocab_size=" << o.vocab_size
       << " --model_type=" << o.model_type << " --character_coverage=" << o.character_coverage
       << " --pad_id=" << o.pad_id << " --unk_id=" << o.unk_id << " --bos_id=" << o.bos_id
       << " --eos_id=" << o.eos_id << " --num_threads=" << o.threads
       << " --minloglevel=2 --hard_vocab_limit=false";
  char err[1024] = {0};
  if (GetShim().train(args.str().c_str(), static_cast<unsigned>(o.seed), err, sizeof(err)) != 0) {
    throw Error("sentencepiece training on " + o.input + " failed: " + err);
  }
}

SentencePiece::SentencePiece(const std::string& model_path) : path_(model_path) {
  if (!fs::is_regular_file(model_path)) throw IoError("sentencepiece model not found: " + model_path);
  char err[1024] = {0};
  handle_ = GetShim().load(model_path.c_str(), err, sizeof(err));
  if (handle_ == nullptr) throw IoError("cannot load sentencepiece model " + model_path + ": " + err);
}

SentencePiece::~SentencePiece() {
  if (handle_ != nullptr) GetShim().destroy(handle_);
}

std::vector<int> SentencePiece::Encode(const std::string& text) const {
  int* ids = nullptr;
  size_t n = 0;
  char err[512] = {0};
  if (GetShim().encode(handle_, text.c_str(), &ids, &n, err, sizeof(err)) != 0) {
    throw DataError("cannot tokenize text: " + std::string(err));
  }
  std::vector<int> out(ids, ids + n);
  GetShim().free(ids);
  return out;
}

std::vector<std::string> SentencePiece::EncodePieces(const std::string& text) const {
  char* joined = nullptr;
  char err[512] = {0};
  if (GetShim().encode_pieces(handle_, text.c_str(), &joined, err, sizeof(err)) != 0) {
    throw DataError("cannot tokenize text: " + std::string(err));
  }
  std::vector<std::string> out;
  std::stringstream ss(joined);
  GetShim().free(joined);
  for (std::string p; std::getline(ss, p, '\n');) out.push_back(p);
  return out;
}

std::string SentencePiece::Decode(const std::vector<int>& ids) const {
  char* text = nullptr;
  char err[512] = {0};
  if (GetShim().decode(handle_, ids.data(), ids.size(), &text, err, sizeof(err)) != 0) {
    throw DataError("cannot decode token ids: " + std::string(err));
  }
  std::string out(text);
  GetShim().free(text);
  return out;
}

int SentencePiece::PieceSize() const { return GetShim().piece_size(handle_); }
int SentencePiece::PieceToId(const std::string& piece) const { return GetShim().piece_to_id(handle_, piece.c_str()); }
std::string SentencePiece::IdToPiece(int id) const {
  char buf[256];
  const size_t n = GetShim().id_to_piece(handle_, id, buf, sizeof(buf));
  if (n < sizeof(buf)) return std::string(buf, n);
  std::string big(n + 1, '\0');
  GetShim().id_to_piece(handle_, id, big.data(), big.size());
  big.resize(n);
  return big;
}
int SentencePiece::unk_id() const { return GetShim().special_id(handle_, 0); }
int SentencePiece::bos_id() const { return GetShim().special_id(handle_, 1); }
int SentencePiece::eos_id() const { return GetShim().special_id(handle_, 2); }
int SentencePiece::pad_id() const { return GetShim().special_id(handle_, 3); }

}  // namespace fas
