//! Twilio's wire formats: Media Streams messages, TwiML, webhook forms, request signatures.
