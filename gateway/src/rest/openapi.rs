//! The OpenAPI 3 document served at `/v1/openapi.json`, written by hand to match the routes.

use actix_web::HttpResponse;
use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// The document; `playbooks` are the playbook ids this gateway accepts.
pub fn document(playbooks: &[String]) -> Value {
    let timezones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    let call_id_param = json!({ "name": "call_id", "in": "path", "required": true, "schema": { "type": "string" } });
    // Built apart from the document: one json! of all of it would pass the macro recursion limit.
    let recording_path = json!({
        "get": {
            "operationId": "getRecording",
            "summary": "The call's stereo WAV (8 kHz, callee left, agent right), streamed",
            "parameters": [ call_id_param.clone() ],
            "responses": {
                "200": { "description": "The recording", "content": { "audio/wav": { "schema": { "type": "string", "format": "binary" } } } },
                "401": error_response("Missing or wrong bearer token"),
                "404": error_response("No such call (not_found) or no recording for it (no_recording)")
            }
        }
    });
    let transcript_turn = json!({
        "type": "object", "required": ["speaker", "text", "at_ms"],
        "properties": {
            "speaker": { "type": "string", "enum": ["agent", "callee"] },
            "text": { "type": "string" },
            "at_ms": { "type": "integer", "description": "Media time since the stream started" },
            "interrupted": { "type": "boolean" }
        }
    });
    let transcript_path = json!({
        "get": {
            "operationId": "getTranscript",
            "summary": "The call's transcript: JSON, or text lines with Accept: text/plain",
            "parameters": [ call_id_param.clone() ],
            "responses": {
                "200": { "description": "The transcript", "content": {
                    "application/json": { "schema": {
                        "type": "object", "required": ["call_id", "status", "turns"],
                        "properties": {
                            "call_id": { "type": "string" },
                            "status": { "$ref": "#/components/schemas/CallStatus" },
                            "turns": { "type": "array", "items": transcript_turn }
                        }
                    } },
                    "text/plain": { "schema": { "type": "string", "description": "[mm:ss.mmm] agent: ... lines" } }
                } },
                "401": error_response("Missing or wrong bearer token"),
                "404": error_response("No such call (not_found) or no result yet (no_transcript)")
            }
        }
    });
    let webhook_schema = json!({
        "type": "object", "nullable": true, "description": "The result webhook's delivery",
        "required": ["state", "url", "attempts"],
        "properties": {
            "state": { "type": "string", "enum": ["pending", "delivered", "failed"] },
            "url": { "type": "string" },
            "attempts": { "type": "integer" },
            "last_error": { "type": "string", "nullable": true },
            "last_attempt_at": { "type": "string", "format": "date-time", "nullable": true },
            "next_attempt_at": { "type": "string", "format": "date-time", "nullable": true },
            "delivered_at": { "type": "string", "format": "date-time", "nullable": true }
        }
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "gym-call-agent REST API",
            "version": "1",
            "description": "Queue phone calls placed by the AI agent, follow them, and read their results."
        },
        "security": [ { "bearerAuth": [] } ],
        "paths": {
            "/v1/calls": {
                "post": {
                    "operationId": "createCall",
                    "summary": "Queue a call",
                    "parameters": [ {
                        "name": "Idempotency-Key", "in": "header", "required": false,
                        "description": "A repeated request with the same key returns the same call.",
                        "schema": { "type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9_=-]+$" }
                    } ],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CallRequest" } } } },
                    "responses": {
                        "202": { "description": "Queued (or the call an earlier request with the same Idempotency-Key created)",
                                 "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CallAccepted" } } } },
                        "400": error_response("Malformed JSON, a field of the wrong type, or a bad Idempotency-Key"),
                        "401": error_response("Missing or wrong bearer token"),
                        "422": error_response("A field has an invalid value; error.field names it"),
                        "503": error_response("The call store or the dial queue is not reachable")
                    }
                },
                "get": {
                    "operationId": "listCalls",
                    "summary": "List calls, newest first",
                    "parameters": [
                        { "name": "status", "in": "query", "required": false, "schema": { "$ref": "#/components/schemas/CallStatus" } },
                        { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 50 } }
                    ],
                    "responses": {
                        "200": { "description": "Calls", "content": { "application/json": { "schema": {
                            "type": "object", "required": ["calls", "count"],
                            "properties": { "calls": { "type": "array", "items": { "$ref": "#/components/schemas/Call" } }, "count": { "type": "integer" } }
                        } } } },
                        "401": error_response("Missing or wrong bearer token"),
                        "422": error_response("Invalid status or limit")
                    }
                }
            },
            "/v1/calls/{call_id}": {
                "get": {
                    "operationId": "getCall",
                    "summary": "A call: status, attempts, Twilio CallSid, result and transcript",
                    "parameters": [ call_id_param.clone() ],
                    "responses": {
                        "200": { "description": "The call", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Call" } } } },
                        "401": error_response("Missing or wrong bearer token"),
                        "404": error_response("No such call")
                    }
                }
            },
            "/v1/calls/{call_id}/recording": recording_path,
            "/v1/calls/{call_id}/transcript": transcript_path,
            "/v1/calls/{call_id}/cancel": {
                "post": {
                    "operationId": "cancelCall",
                    "summary": "Cancel a waiting call or hang up a live one",
                    "parameters": [ call_id_param ],
                    "responses": {
                        "202": { "description": "Cancel requested", "content": { "application/json": { "schema": {
                            "type": "object", "required": ["call_id", "status", "cancel_requested"],
                            "properties": { "call_id": { "type": "string" }, "status": { "$ref": "#/components/schemas/CallStatus" }, "cancel_requested": { "type": "boolean" } }
                        } } } },
                        "401": error_response("Missing or wrong bearer token"),
                        "404": error_response("No such call"),
                        "409": error_response("The call already ended")
                    }
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "OpenAPI 3 document", "content": { "application/json": { "schema": { "type": "object" } } } } }
                }
            }
        },
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "CallRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["phone_number", "gym_name"],
                    "properties": {
                        "phone_number": { "type": "string", "pattern": "^\\+[1-9][0-9]{7,14}$", "description": "E.164" },
                        "gym_name": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "country": { "type": "string", "nullable": true, "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2" },
                        "timezone": { "type": "string", "nullable": true, "enum": timezones, "description": "IANA timezone of the callee, e.g. America/New_York" },
                        "preferred_language": { "type": "string", "nullable": true, "pattern": "^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$", "maxLength": 35, "description": "BCP 47 tag, e.g. en-US" },
                        "playbook": { "type": "string", "nullable": true, "enum": playbooks, "description": "A known playbook id; default gym-dropin" },
                        "not_before": { "type": "string", "nullable": true, "format": "date-time", "description": "Do not call before (RFC 3339)" },
                        "calling_window": {
                            "type": "string", "nullable": true,
                            "pattern": "^((Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?(,(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?)* )?([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                            "description": "Local calling hours, e.g. \"Mon-Fri 09:00-17:00\" (opening before closing, day ranges forwards)"
                        },
                        "result_webhook": {
                            "type": "string", "nullable": true, "format": "uri", "maxLength": 2048, "pattern": "^https?://",
                            "description": "POST the call's record here, signed (X-Gymcall-Signature), when it ends; overrides RESULT_WEBHOOK_URL"
                        }
                    }
                },
                "CallAccepted": {
                    "type": "object",
                    "required": ["call_id", "status", "created_at"],
                    "properties": {
                        "call_id": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/CallStatus" },
                        "created_at": { "type": "string", "format": "date-time" }
                    }
                },
                "CallStatus": {
                    "type": "string",
                    "enum": ["queued", "dialing", "ringing", "in_progress", "retry_scheduled", "completed", "failed", "canceled"]
                },
                "Attempt": {
                    "type": "object",
                    "required": ["number", "started_at"],
                    "properties": {
                        "number": { "type": "integer" },
                        "call_sid": { "type": "string", "nullable": true },
                        "started_at": { "type": "string", "format": "date-time" },
                        "ended_at": { "type": "string", "format": "date-time", "nullable": true },
                        "outcome": { "type": "string", "nullable": true, "description": "completed, busy, no-answer, failed, machine, canceled, error:<twilio code>" }
                    }
                },
                "Call": {
                    "type": "object",
                    "required": ["call_id", "status", "request", "attempts", "attempt_count", "created_at", "updated_at"],
                    "properties": {
                        "call_id": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/CallStatus" },
                        "request": { "$ref": "#/components/schemas/CallRequest" },
                        "attempts": { "type": "array", "items": { "$ref": "#/components/schemas/Attempt" } },
                        "attempt_count": { "type": "integer" },
                        "call_sid": { "type": "string", "nullable": true, "description": "Twilio CallSid of the latest attempt" },
                        "next_attempt_at": { "type": "string", "format": "date-time", "nullable": true },
                        "last_error": { "type": "string", "nullable": true },
                        "result": { "type": "object", "nullable": true, "description": "The structured result (fields, transcript, timings)" },
                        "transcript": { "type": "array", "nullable": true, "items": { "type": "object" } },
                        "webhook": webhook_schema,
                        "created_at": { "type": "string", "format": "date-time" },
                        "updated_at": { "type": "string", "format": "date-time" }
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": { "type": "string" },
                            "message": { "type": "string" },
                            "field": { "type": "string", "nullable": true }
                        }
                    } }
                }
            }
        }
    })
}

/// `GET /v1/openapi.json`.
pub async fn openapi(rest: actix_web::web::Data<super::RestState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&rest.known_playbooks))
}
