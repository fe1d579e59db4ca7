#include "fake_trees.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace fas::testing {

namespace {

void Put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void Put16(std::string& s, uint16_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>(v >> 8);
}

// A file whose content does not matter (a video clip the preparer must not decode).
void WriteDummy(const std::string& path) { WriteFile(path, "not a real video"); }

}  // namespace

void WriteWav(const std::string& path, double seconds) {
  const int rate = 16000;
  const auto n = static_cast<uint32_t>(seconds * rate);
  std::string data;
  for (uint32_t i = 0; i < n; ++i) {
    Put16(data, static_cast<uint16_t>(static_cast<int16_t>(3000 * std::sin(2 * M_PI * 220.0 * i / rate))));
  }
  std::string wav = "RIFF";
  Put32(wav, 36 + static_cast<uint32_t>(data.size()));
  wav += "WAVEfmt ";
  Put32(wav, 16);
  Put16(wav, 1);  // PCM
  Put16(wav, 1);  // mono
  Put32(wav, rate);
  Put32(wav, rate * 2);
  Put16(wav, 2);
  Put16(wav, 16);
  wav += "data";
  Put32(wav, static_cast<uint32_t>(data.size()));
  WriteFile(path, wav + data);
}

std::string BuildIemocap(const std::string& dir) {
  const std::string root = dir + "/iemocap_download";
  const std::string rel = root + "/IEMOCAP_full_release";
  struct Turn {
    int session;
    std::string dialog, turn, label, text;
  };
  const std::vector<Turn> turns = {
      {1, "Ses01F_impro01", "Ses01F_impro01_F000", "neu", "Excuse me."},
      {1, "Ses01F_impro01", "Ses01F_impro01_M000", "fru", "Do you have your forms?"},
      {1, "Ses01F_impro01", "Ses01F_impro01_F001", "exc", "Yeah."},
      {1, "Ses01F_impro01", "Ses01F_impro01_M001", "xxx", "Let me see them."},
      {2, "Ses02M_impro03", "Ses02M_impro03_F000", "ang", "I told you already."},
      {3, "Ses03F_script02_2", "Ses03F_script02_2_M003", "sad", "She is gone."},
      {4, "Ses04M_impro05", "Ses04M_impro05_M010", "hap", "That is wonderful."},
      {5, "Ses05M_script01_1", "Ses05M_script01_1_F012", "sur", "You did what?"},
  };
  std::map<std::string, std::string> eval, transcripts;
  for (const auto& t : turns) {
    auto& e = eval[t.dialog];
    if (e.empty()) e = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n";
    e += "[6.2901 - 8.2357]\t" + t.turn + "\t" + t.label + "\t[2.5000, 2.5000, 2.5000]\n";
    e += "C-E2:\tNeutral;\t()\nC-E3:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n";
    transcripts[t.dialog] += t.turn + " [006.2901-008.2357]: " + t.text + "\n";
    WriteWav(rel + "/Session" + std::to_string(t.session) + "/sentences/wav/" + t.dialog + "/" + t.turn + ".wav");
  }
  for (const auto& t : turns) {
    const std::string session = rel + "/Session" + std::to_string(t.session);
    WriteFile(session + "/dialog/EmoEvaluation/" + t.dialog + ".txt", eval[t.dialog]);
    WriteFile(session + "/dialog/transcriptions/" + t.dialog + ".txt",
              "M: [BREATHING]\n" + transcripts[t.dialog]);
    // The per-evaluator files live in subfolders and must not be read as consensus labels.
    WriteFile(session + "/dialog/EmoEvaluation/Categorical/" + t.dialog + "_e2_cat.txt",
              t.turn + " :Neutral state; ()\n");
  }
  // A macOS resource fork that unzips beside the real file.
  WriteFile(rel + "/Session1/dialog/EmoEvaluation/._Ses01F_impro01.txt", "\x00\x05\x16\x07");
  return root;
}

std::string BuildMeld(const std::string& dir) {
  const std::string root = dir + "/meld_download";
  const std::string raw = root + "/MELD.Raw";
  const std::string header = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,"
                             "StartTime,EndTime\n";
  // The distributor's CSVs are not UTF-8 everywhere (\x92: a Windows-1252 apostrophe).
  WriteFile(raw + "/train_sent_emo.csv",
            header +
                "1,\"also I was the point person on my company\x92s transition from the KL-5 to GR-6 system.\","
                "Chandler,neutral,neutral,0,0,8,21,\"00:16:16,059\",\"00:16:21,731\"\n"
                "2,You must\x92ve had your hands full.,The Interviewer,joy,positive,0,1,8,21,\"00:16:21,940\","
                "\"00:16:23,442\"\n"
                "3,\"That I did. That I did.\",Chandler,sadness,negative,0,2,8,21,\"00:16:23,442\",\"00:16:26,389\"\n");
  WriteFile(raw + "/dev_sent_emo.csv",
            header + "1,\"Oh my God, he\x92s lost it. He\x92s totally lost it.\",Phoebe,sadness,negative,0,0,4,7,"
                     "\"00:20:57,256\",\"00:21:00,049\"\n");
  WriteFile(raw + "/test_sent_emo.csv",
            header + "1,Why do all you\x92re coffee mugs have numbers on the bottom?,Mark,surprise,positive,0,0,3,19,"
                     "\"00:14:38,127\",\"00:14:40,378\"\n"
                     "2,Oh. That\x92s so Monica can keep track.,Rachel,anger,negative,0,1,3,19,\"00:14:40,712\","
                     "\"00:14:44,812\"\n");
  for (const std::string stem : {"dia0_utt0", "dia0_utt1", "dia0_utt2"}) {
    WriteDummy(raw + "/train_splits/" + stem + ".mp4");
  }
  WriteWav(raw + "/train_splits/dia0_utt0.wav");
  WriteWav(raw + "/train_splits/dia0_utt1.wav");
  // dia0_utt2 has only its .mp4: the user has not extracted it.
  WriteDummy(raw + "/dev_splits_complete/dia0_utt0.mp4");
  WriteWav(raw + "/dev_splits_complete/dia0_utt0.wav");
  WriteDummy(raw + "/output_repeated_splits_test/dia0_utt0.mp4");
  WriteWav(raw + "/output_repeated_splits_test/wav/dia0_utt0.wav");
  WriteDummy(raw + "/output_repeated_splits_test/dia0_utt1.mp4");
  WriteWav(raw + "/output_repeated_splits_test/wav/dia0_utt1.wav");
  return root;
}

std::string BuildRavdess(const std::string& dir) {
  const std::string root = dir + "/Audio_Speech_Actors_01-24";
  auto actor_dir = [&](int a) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "Actor_%02d", a);
    return root + "/" + buf;
  };
  WriteWav(actor_dir(1) + "/03-01-01-01-01-01-01.wav");  // neutral, "Kids"
  WriteWav(actor_dir(1) + "/03-01-02-01-02-02-01.wav");  // calm: no canonical counterpart
  WriteWav(actor_dir(1) + "/03-02-03-01-01-01-01.wav");  // song: not speech
  WriteWav(actor_dir(2) + "/03-01-06-02-01-01-02.wav");  // fearful, strong, female
  for (int a = 3; a <= 24; ++a) {
    char name[40];
    std::snprintf(name, sizeof(name), "/03-01-05-01-02-01-%02d.wav", a);
    WriteWav(actor_dir(a) + name);
  }
  return root;
}

std::string BuildEsd(const std::string& dir) {
  const std::string root = dir + "/esd_download";
  const std::string base = root + "/Emotional Speech Dataset (ESD)/Emotion Speech Dataset";
  WriteFile(base + "/ReadMe.txt", "0001: Chinese Female\n");
  for (int s = 1; s <= 20; ++s) {
    char spk[8];
    std::snprintf(spk, sizeof(spk), "%04d", s);
    const std::string d = base + "/" + spk;
    if (s == 1) {
      // GB2312 text, as the distributor wrote speaker 0001's transcript: "打远一看，它们的确很是美丽，" / "中立".
      WriteFile(d + "/0001.txt",
                "0001_000001\t\xb4\xf2\xd4\xb6\xd2\xbb\xbf\xb4\xa3\xac\xcb\xfc\xc3\xc7\xb5\xc4\xc8\xb7\xba\xdc"
                "\xca\xc7\xc3\xc0\xc0\xf6\xa3\xac\t\xd6\xd0\xc1\xa2\n");
      WriteWav(d + "/Neutral/evaluation/0001_000001.wav");
      WriteWav(d + "/Angry/train/0001_000351.wav");
    } else if (s == 11) {
      // UTF-16 with a byte-order mark, as for speaker 0012 and others.
      const std::string text = "0011_000021\tAuthor of the danger trail, Philip Steels, etc.\tAngry\r\n";
      std::string utf16 = "\xff\xfe";
      for (char c : text) {
        utf16 += c;
        utf16 += '\0';
      }
      WriteFile(d + "/0011.txt", utf16);
      WriteWav(d + "/Angry/evaluation/0011_000021.wav");
      WriteWav(d + "/Surprise/test/0011_001721.wav");
    } else {
      WriteFile(d + "/" + spk + ".txt", std::string(spk) + "_000701\tSome text.\tHappy\n");
      WriteWav(d + "/Happy/test/" + spk + "_000701.wav");
    }
  }
  return root;
}

std::string BuildMosei(const std::string& dir) {
  const std::string root = dir + "/mosei_download";
  const std::string raw = root + "/CMU_MOSEI/Raw";
  WriteFile(raw + "/Transcript/Segmented/Combined/vidA.txt",
            "vidA___0___0.5___2.0___so I went to the store\n"
            "vidA___1___-0.3___1.0___and it was closed\n"
            "vidA___2___3.0___4.0___nobody rated this one\n");
  WriteFile(raw + "/Transcript/Segmented/Combined/vidB.txt", "vidB___0___1.0___2.5___I do not know\n");
  WriteWav(raw + "/Audio/Full/WAV_16000/vidA.wav", 4.5);
  WriteWav(raw + "/Audio/Full/WAV_16000/vidB.wav", 3.0);
  // One row an annotator; three annotators a segment.
  WriteFile(raw + "/Labels/5000_batch_raw.csv",
            "HITId,WorkerId,Input.VIDEO_ID,Input.CLIP,Answer.anger,Answer.disgust,Answer.fear,Answer.happiness,"
            "Answer.sadness,Answer.sentiment,Answer.surprise\n"
            "h1,w1,vidA,0,0,0,0,2,0,2,0\n"
            "h1,w2,vidA,0,0,0,0,1,1,1,0\n"
            "h1,w3,vidA,0,0,0,0,3,0,3,1\n"
            "h2,w1,vidA,1,0,0,0,0,0,0,0\n"
            "h2,w2,vidA,1,0,0,0,0,0,0,0\n"
            "h3,w1,vidB,0,1,0,0,0,1,-1,0\n"
            "h3,w2,vidB,0,1,0,0,0,1,-2,0\n");
  WriteFile(root + "/CMU-MultimodalSDK/mmsdk/mmdatasdk/dataset/standard_datasets/CMU_MOSEI/cmu_mosei_std_folds.py",
            "standard_train_fold = ['vidA', 'other1']\nstandard_valid_fold = ['other2']\n"
            "standard_test_fold = ['vidB']\n");
  return root;
}

std::string BuildMer2024(const std::string& dir) {
  const std::string root = dir + "/mer_download";
  const std::string d = root + "/mer2024-dataset";
  WriteFile(d + "/label-disdim.csv",
            "name,discrete,valence\nsample_00000001,worried,-1.2\nsample_00000002,happy,2.0\n"
            "sample_00000003,angry,-2.4\n");
  WriteFile(d + "/label-transcription.csv",
            "name,chinese,english\nsample_00000001,我有点担心。,I am a bit worried.\n"
            "sample_00000003,你给我出去！,Get out!\n");
  for (const std::string n : {"sample_00000001", "sample_00000002", "sample_00000003"}) {
    WriteDummy(d + "/video-labeled/" + n + ".mp4");
  }
  WriteWav(d + "/audio-labeled/sample_00000001.wav");
  WriteWav(d + "/audio-labeled/sample_00000003.wav");
  return root;
}

std::string BuildCase(const std::string& dir) {
  const std::string root = dir + "/case_download";
  WriteFile(root + "/CASE/metadata.csv",
            "id,audio,text,text_emotion,audio_emotion,speaker,language\n"
            "case_0001,wavs/case_0001.wav,\"Great, just great.\",happy,angry,voice03,en\n"
            "case_0002,wavs/case_0002.wav,I'm so sorry for your loss.,sad,happy,voice11,en\n"
            "case_0003,wavs/case_0003.wav,太好了！,happy,sad,voice07,zh\n");
  for (const std::string n : {"case_0001", "case_0002", "case_0003"}) WriteWav(root + "/CASE/wavs/" + n + ".wav");
  return root;
}

std::string BuildEmis(const std::string& dir) {
  const std::string root = dir + "/EMIS";
  WriteFile(root + "/README.md", "Emotionally Incongruent Synthetic Speech Dataset\n");
  WriteWav(root + "/wavs/s001_happy_angry_0011_CosyVoice.wav");
  WriteWav(root + "/wavs/s002_sad_neutral_0014_F5-TTS.wav");
  WriteWav(root + "/wavs/s003_neutral_sad_0019_Style_TTS2.wav");
  return root;
}

std::string BuildEmoEmilia(const std::string& dir) {
  const std::string root = dir + "/C2SER";
  const std::string d = root + "/Emo-Emilia";
  WriteFile(d + "/Emo-Emilia-ALL.jsonl",
            "{\"index\": \"ZH_B00090_S00350_W000000\", \"emotion\": \"angry\", \"wav\": "
            "\"./Emo-Emilia/ZH_B00090_S00350_W000000.wav\", \"text\": \"那就没什么好说的了。\"}\n"
            "{\"index\": \"EN_B00104_S01234_W000001\", \"emotion\": \"surprised\", \"wav\": "
            "\"./Emo-Emilia/EN_B00104_S01234_W000001.wav\", \"text\": \"No way, you did that?\"}\n"
            "{\"index\": \"EN_B00104_S01234_W000002\", \"emotion\": \"disgusted\", \"wav\": "
            "\"./Emo-Emilia/EN_B00104_S01234_W000002.wav\", \"text\": \"That smell is awful.\"}\n");
  for (const std::string n : {"ZH_B00090_S00350_W000000", "EN_B00104_S01234_W000001", "EN_B00104_S01234_W000002"}) {
    WriteWav(d + "/" + n + ".wav");
  }
  return root;
}

std::string BuildEmovo(const std::string& dir) {
  const std::string root = dir + "/EMOVO";
  for (const std::string n : {"f1/dis-f1-b1", "f1/gio-f1-n2", "f2/neu-f2-l1", "f3/pau-f3-n1", "m1/rab-m1-d1",
                              "m2/sor-m2-b2", "m3/tri-m3-l2"}) {
    WriteWav(root + "/" + n + ".wav");
  }
  WriteFile(root + "/documents/EMOVO.pdf", "%PDF");
  return root;
}

std::string BuildEmodb(const std::string& dir) {
  const std::string root = dir + "/emodb_download";
  for (const std::string n : {"03a01Fa", "08a02La", "09b01Ta", "10a04Wb", "11a05Ea", "12a07Aa", "13b02Nc", "14b03Fa",
                              "15b09Wa", "16b10Tb"}) {
    WriteWav(root + "/wav/" + n + ".wav");
  }
  WriteFile(root + "/silb/03a01Fa.silb", "0 Der\n");
  WriteFile(root + "/erkennung.txt", "");
  return root;
}

}  // namespace fas::testing
