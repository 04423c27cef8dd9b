"""The agent's voice pipeline: VAD → on-prem streaming ASR → redaction → LLM → TTS.

Everything here runs in the agent trust zone. Caller audio is transcribed locally
(:mod:`voxseal.agent.asr`), the transcript is redacted (:mod:`voxseal.privacy`) before any
language model sees it (:mod:`voxseal.agent.llm` accepts only ``RedactedText``), and the reply
is spoken back with espeak-ng (:mod:`voxseal.agent.tts`). :class:`AgentPipeline` wires these for
one caller, with barge-in and consent checks; the worker that joins rooms builds on it.
"""

from voxseal.agent.asr import (
    FasterWhisperTranscriber,
    PocketSphinxTranscriber,
    Transcriber,
    Transcript,
    TranscriptStream,
    VoskTranscriber,
    transcribe,
)
from voxseal.agent.errors import (
    AgentError,
    EngineUnavailable,
    ModelNotFound,
    ResponderError,
    ResponderHTTPError,
    ResponderProtocolError,
    ResponderTimeout,
    ResponderUnreachable,
    TTSError,
    TTSUnavailable,
)
from voxseal.agent.llm import (
    Exchange,
    OpenAICompatibleResponder,
    Responder,
    RuleBasedResponder,
    require_redacted,
)
from voxseal.agent.pipeline import AgentPipeline, TranscriptEvent, Turn
from voxseal.agent.tts import EspeakTTS, SpeechSynthesizer
from voxseal.agent.vad import SpeechEnded, SpeechStarted, UtteranceAudio, UtteranceSegmenter

__all__ = [
    "AgentError",
    "AgentPipeline",
    "EngineUnavailable",
    "EspeakTTS",
    "Exchange",
    "FasterWhisperTranscriber",
    "ModelNotFound",
    "OpenAICompatibleResponder",
    "PocketSphinxTranscriber",
    "Responder",
    "ResponderError",
    "ResponderHTTPError",
    "ResponderProtocolError",
    "ResponderTimeout",
    "ResponderUnreachable",
    "RuleBasedResponder",
    "SpeechEnded",
    "SpeechStarted",
    "SpeechSynthesizer",
    "TTSError",
    "TTSUnavailable",
    "Transcriber",
    "Transcript",
    "TranscriptEvent",
    "TranscriptStream",
    "Turn",
    "UtteranceAudio",
    "UtteranceSegmenter",
    "VoskTranscriber",
    "require_redacted",
    "transcribe",
]
