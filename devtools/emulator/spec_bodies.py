"""Request schemas of the media and recording operations, transcribed from the Call Automation spec
(`communicationservicescallautomation.json`, api-version 2026-03-12: definitions PlayRequest, RecognizeRequest,
HoldRequest, UnholdRequest, StartCallRecordingRequest and what they reference). Every object there has
`additionalProperties: false`, so an unknown field is refused, as are a missing required field, a wrong type,
a value outside an enum or a range. tests/emulator/test_emulator_media.py checks this transcription against the
spec file itself.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .identifiers import identifier_from_model

TONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "a", "b", "c", "d",
         "pound", "asterisk"]
IDENTIFIER = {"identifier": True}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "FileSource": {"required": ["uri"], "properties": {"uri": STRING}},
    "TextSource": {"required": ["text"], "properties": {
        "text": STRING, "sourceLocale": STRING, "voiceKind": {"enum": ["male", "female"]}, "voiceName": STRING,
        "customVoiceEndpointId": STRING}},
    "SsmlSource": {"required": ["ssmlText"], "properties": {"ssmlText": STRING, "customVoiceEndpointId": STRING}},
    "PlaySource": {"required": ["kind"], "properties": {
        "kind": {"enum": ["file", "text", "ssml"]}, "playSourceCacheId": STRING, "file": {"ref": "FileSource"},
        "text": {"ref": "TextSource"}, "ssml": {"ref": "SsmlSource"}}},
    "PlayOptions": {"required": ["loop"], "properties": {"loop": BOOLEAN}},
    "PlayRequest": {"required": ["playSources"], "properties": {
        "playSources": {"array": {"ref": "PlaySource"}}, "playTo": {"array": IDENTIFIER},
        "interruptCallMediaOperation": BOOLEAN, "playOptions": {"ref": "PlayOptions"}, "operationContext": STRING,
        "operationCallbackUri": STRING}},
    "DtmfOptions": {"required": [], "properties": {
        "interToneTimeoutInSeconds": {"type": "integer", "minimum": 1, "maximum": 60},
        "maxTonesToCollect": {"type": "integer"}, "stopTones": {"array": {"enum": TONES}}}},
    "Choice": {"required": ["label", "phrases"], "properties": {
        "label": STRING, "phrases": {"array": STRING}, "tone": {"enum": TONES}}},
    "SpeechOptions": {"required": [], "properties": {"endSilenceTimeoutInMs": {"type": "integer"}}},
    "RecognizeOptions": {"required": ["targetParticipant"], "properties": {
        "interruptPrompt": BOOLEAN, "initialSilenceTimeoutInSeconds": {"type": "integer", "minimum": 0, "maximum": 300},
        "targetParticipant": IDENTIFIER, "speechLanguage": STRING, "speechRecognitionModelEndpointId": STRING,
        "dtmfOptions": {"ref": "DtmfOptions"}, "choices": {"array": {"ref": "Choice"}},
        "speechOptions": {"ref": "SpeechOptions"}}},
    "RecognizeRequest": {"required": ["recognizeInputType", "recognizeOptions"], "properties": {
        "recognizeInputType": {"enum": ["dtmf", "speech", "speechOrDtmf", "choices"]},
        "playPrompt": {"ref": "PlaySource"}, "playPrompts": {"array": {"ref": "PlaySource"}},
        "interruptCallMediaOperation": BOOLEAN, "recognizeOptions": {"ref": "RecognizeOptions"},
        "operationContext": STRING, "operationCallbackUri": STRING}},
    "HoldRequest": {"required": ["targetParticipant"], "properties": {
        "targetParticipant": IDENTIFIER, "playSourceInfo": {"ref": "PlaySource"}, "operationContext": STRING,
        "operationCallbackUri": STRING}},
    "UnholdRequest": {"required": ["targetParticipant"], "properties": {
        "targetParticipant": IDENTIFIER, "operationContext": STRING, "operationCallbackUri": STRING}},
    "CallLocator": {"required": [], "properties": {
        "groupCallId": STRING, "serverCallId": STRING, "roomId": STRING,
        "kind": {"enum": ["groupCallLocator", "serverCallLocator", "roomCallLocator"]}}},
    "ChannelAffinity": {"required": ["participant"], "properties": {
        "channel": {"type": "integer", "minimum": 0, "maximum": 4}, "participant": IDENTIFIER}},
    "ExternalStorage": {"required": ["recordingStorageKind"], "properties": {
        "recordingStorageKind": {"enum": ["azureCommunicationServices", "azureBlobStorage"]},
        "recordingDestinationContainerUrl": STRING}},
    "StartCallRecordingRequest": {"required": [], "properties": {
        "callLocator": {"ref": "CallLocator"}, "callConnectionId": STRING, "recordingStateCallbackUri": STRING,
        "recordingContentType": {"enum": ["audio", "audioVideo"]},
        "recordingChannelType": {"enum": ["mixed", "unmixed"]},
        "recordingFormatType": {"enum": ["wav", "mp3", "mp4"]},
        "audioChannelParticipantOrdering": {"array": IDENTIFIER},
        "channelAffinity": {"array": {"ref": "ChannelAffinity"}}, "pauseOnStart": BOOLEAN,
        "externalStorage": {"ref": "ExternalStorage"}}},
}


def validate(value: Any, schema: str, where: str = "") -> dict[str, Any]:
    """Check a request body against one of SCHEMAS; a 400 naming the field otherwise."""
    _object(value, schema, where or schema)
    return value


def _object(value: Any, name: str, where: str) -> None:
    spec = SCHEMAS[name]
    if not isinstance(value, dict):
        raise bad_request(f"The field '{where}' must be a {name} object.")
    for key in spec["required"]:
        if value.get(key) is None:
            raise bad_request(f"The field '{_join(where, key)}' is required by {name}.")
    for key, item in value.items():
        if key not in spec["properties"]:
            raise bad_request(f"The field '{_join(where, key)}' is not part of {name}.")
        if item is not None:
            _value(item, spec["properties"][key], _join(where, key))


def _value(value: Any, rule: dict[str, Any], where: str) -> None:
    if "ref" in rule:
        _object(value, rule["ref"], where)
    elif "array" in rule:
        if not isinstance(value, list):
            raise bad_request(f"The field '{where}' must be an array.")
        for index, item in enumerate(value):
            _value(item, rule["array"], f"{where}[{index}]")
    elif "identifier" in rule:
        identifier_from_model(value, where)
    elif "enum" in rule:
        # modelAsString enums: compared case-insensitively, as the service does.
        if not isinstance(value, str) or value.lower() not in {v.lower() for v in rule["enum"]}:
            raise bad_request(f"The field '{where}' must be one of {', '.join(rule['enum'])}.")
    elif rule.get("type") == "string":
        if not isinstance(value, str):
            raise bad_request(f"The field '{where}' must be a string.")
    elif rule.get("type") == "boolean":
        if not isinstance(value, bool):
            raise bad_request(f"The field '{where}' must be a boolean.")
    elif rule.get("type") == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The field '{where}' must be an integer.")
        if ("minimum" in rule and value < rule["minimum"]) or ("maximum" in rule and value > rule["maximum"]):
            raise bad_request(f"The field '{where}' must be between {rule.get('minimum')} and {rule.get('maximum')}.")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where and where[0].islower() else key
