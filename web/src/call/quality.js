// Connection quality from RTCPeerConnection.getStats(): round-trip time of the selected ICE
// candidate pair (STUN consent checks, so it works even though the SFU does not send receiver
// reports to publishers), jitter and loss of the received audio, and the negotiated ciphers.

export async function connectionQuality(pc) {
  const report = await pc.getStats();
  const q = {
    rtt: null,
    jitter: null,
    packetsReceived: 0,
    packetsLost: 0,
    srtpCipher: null,
    dtlsCipher: null,
    // decoded (so decrypted) audio that reached the speakers: 0 if only silence arrived
    audioEnergy: 0,
    audioLevel: 0,
  };
  let selectedPair = null;
  report.forEach((s) => {
    if (s.type === "transport") {
      if (s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId;
      q.srtpCipher = s.srtpCipher || q.srtpCipher;
      q.dtlsCipher = s.dtlsCipher || q.dtlsCipher;
    }
  });
  report.forEach((s) => {
    if (s.type === "candidate-pair") {
      const selected = selectedPair ? s.id === selectedPair : s.nominated && s.state === "succeeded";
      if (selected && typeof s.currentRoundTripTime === "number") q.rtt = s.currentRoundTripTime;
    } else if (s.type === "inbound-rtp" && s.kind === "audio") {
      q.packetsReceived += s.packetsReceived || 0;
      q.packetsLost += Math.max(0, s.packetsLost || 0);
      q.audioEnergy += s.totalAudioEnergy || 0;
      q.audioLevel = Math.max(q.audioLevel, s.audioLevel || 0);
      if (s.packetsReceived && typeof s.jitter === "number") {
        q.jitter = Math.max(q.jitter ?? 0, s.jitter);
      }
    }
  });
  return q;
}

export function lossPercent(q) {
  const total = q.packetsReceived + q.packetsLost;
  return total ? (100 * q.packetsLost) / total : 0;
}
