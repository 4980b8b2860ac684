//! Sortie's message bus: subjects, envelopes, the Bus trait on NATS JetStream, and the outbox relay
