// Built as its own shared library, linked against Debian's libsentencepiece (which carries protobuf 3.14) and
// loaded into a separate link namespace by dlmopen, so it never meets LibTorch's protobuf 3.21.
#include "spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
void SetError(char* err, size_t errlen, const std::string& msg) {
  if (err == nullptr || errlen == 0) return;
  std::strncpy(err, msg.c_str(), errlen - 1);
  err[errlen - 1] = '\0';
}
}  // namespace

extern "C" {

int fas_spm_train(const char* args, unsigned int seed, char* err, size_t errlen) {
  // Sentencepiece 0.1.97 takes the seed through this call, not a trainer flag.
  sentencepiece::SetRandomGeneratorSeed(seed);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    SetError(err, errlen, status.ToString());
    return -1;
  }
  return 0;
}

void* fas_spm_load(const char* model_path, char* err, size_t errlen) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  const auto status = sp->Load(model_path);
  if (!status.ok()) {
    SetError(err, errlen, status.ToString());
    delete sp;
    return nullptr;
  }
  return sp;
}

void fas_spm_destroy(void* handle) { delete static_cast<sentencepiece::SentencePieceProcessor*>(handle); }

int fas_spm_encode(void* handle, const char* text, int** ids, size_t* n, char* err, size_t errlen) {
  std::vector<int> out;
  const auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(text, &out);
  if (!status.ok()) {
    SetError(err, errlen, status.ToString());
    return -1;
  }
  *n = out.size();
  *ids = static_cast<int*>(std::malloc(sizeof(int) * (out.empty() ? 1 : out.size())));
  if (!out.empty()) std::memcpy(*ids, out.data(), sizeof(int) * out.size());
  return 0;
}

int fas_spm_encode_pieces(void* handle, const char* text, char** joined, char* err, size_t errlen) {
  std::vector<std::string> pieces;
  const auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(text, &pieces);
  if (!status.ok()) {
    SetError(err, errlen, status.ToString());
    return -1;
  }
  std::string all;
  for (size_t i = 0; i < pieces.size(); ++i) all += (i ? "\n" : "") + pieces[i];
  *joined = strdup(all.c_str());
  return 0;
}

int fas_spm_decode(void* handle, const int* ids, size_t n, char** text, char* err, size_t errlen) {
  std::string out;
  const auto status =
      static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Decode(std::vector<int>(ids, ids + n), &out);
  if (!status.ok()) {
    SetError(err, errlen, status.ToString());
    return -1;
  }
  *text = strdup(out.c_str());
  return 0;
}

int fas_spm_piece_size(void* handle) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize();
}

int fas_spm_piece_to_id(void* handle, const char* piece) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->PieceToId(piece);
}

size_t fas_spm_id_to_piece(void* handle, int id, char* buf, size_t buflen) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  if (id < 0 || id >= sp->GetPieceSize()) return 0;
  const std::string& p = sp->IdToPiece(id);
  if (buflen > 0) {
    std::strncpy(buf, p.c_str(), buflen - 1);
    buf[buflen - 1] = '\0';
  }
  return p.size();
}

int fas_spm_special_id(void* handle, int which) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  switch (which) {
    case 0: return sp->unk_id();
    case 1: return sp->bos_id();
    case 2: return sp->eos_id();
    case 3: return sp->pad_id();
    default: return -1;
  }
}

void fas_spm_free(void* p) { std::free(p); }

}  // extern "C"
