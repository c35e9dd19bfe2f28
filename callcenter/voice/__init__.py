"""Voice layers: prompt rendering for SIP, and the SIP (pjsua2) and Twilio adapters."""
