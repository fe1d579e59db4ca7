// C interface of the sentencepiece shim. Only plain buffers cross it; memory is freed on the side that
// allocated it (fas_spm_free). See src/text/sentencepiece.cpp for why this exists.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// All functions return 0 on success; on failure they write a message into err (errlen bytes) and return -1.
int fas_spm_train(const char* args, unsigned int seed, char* err, size_t errlen);
void* fas_spm_load(const char* model_path, char* err, size_t errlen);
void fas_spm_destroy(void* handle);
int fas_spm_encode(void* handle, const char* text, int** ids, size_t* n, char* err, size_t errlen);
int fas_spm_encode_pieces(void* handle, const char* text, char** joined, char* err, size_t errlen);
int fas_spm_decode(void* handle, const int* ids, size_t n, char** text, char* err, size_t errlen);
int fas_spm_piece_size(void* handle);
int fas_spm_piece_to_id(void* handle, const char* piece);
// Writes the piece for `id` into buf (NUL-terminated, truncated to buflen); returns its full length.
size_t fas_spm_id_to_piece(void* handle, int id, char* buf, size_t buflen);
// Special ids as the model defines them (-1 when absent): 0 unk, 1 bos, 2 eos, 3 pad.
int fas_spm_special_id(void* handle, int which);
void fas_spm_free(void* p);

#ifdef __cplusplus
}
#endif
