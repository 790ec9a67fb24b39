//! Planning a synthetic stack: which sheets, in which order, and the ground truth
//! a correct station must produce from them.

use super::rng::Rng;
use crate::batch::identifiers::complete_nhs_number;
use crate::batch::protocol::{document_code, record_code};
use serde::{Deserialize, Serialize};

/// What kind of stack to make.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackSpec {
    pub seed: u64,
    pub records: usize,
    pub dpi: u32,
    pub duplex: bool,
    /// Sensor noise, grey levels (standard deviation).
    pub noise_sigma: f32,
    /// Largest skew either way, degrees.
    pub max_skew_deg: f32,
    /// Largest brightness change from top to bottom, grey levels.
    pub drift: f32,
    /// The stack starts with Folio's session test target (`folio sheets
    /// --target`), as the first sheet of a scanning session does.
    #[serde(default)]
    pub target_first: bool,
}

impl Default for StackSpec {
    fn default() -> Self {
        StackSpec {
            seed: 1,
            records: 3,
            dpi: 200,
            duplex: true,
            noise_sigma: 6.0,
            max_skew_deg: 3.0,
            drift: 20.0,
            target_first: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Symbology {
    Code128,
    Code39,
    Qr,
}

/// A patient-ID label stuck on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub text: String,
    pub symbology: Symbology,
}

/// The content of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SideKind {
    RecordSheet {
        code: String,
        words: Vec<String>,
    },
    DocSheet {
        code: String,
        words: Vec<String>,
    },
    /// The (empty) back of a control sheet.
    ControlBack,
    /// Folio's session test target, scanned sharp.
    Target,
    /// A typed clinical page, perhaps with an ID label.
    Clinical {
        label: Option<Label>,
    },
    /// One or two lines of text on an otherwise empty page: must be kept.
    NearBlank {
        lines: usize,
    },
    /// An empty side (speckle, maybe bleed-through): must be removed.
    Blank {
        bleed: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthDocument {
    pub doc_type: Option<String>,
    pub sides: Vec<u32>,
    /// (side, flag code) expected on pages of this document.
    pub page_flags: Vec<(u32, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthRecord {
    pub nhs_number: Option<String>,
    pub hospital_number: Option<String>,
    pub specialty: Option<String>,
    pub documents: Vec<TruthDocument>,
}

/// What a correct station makes of the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub sides: u32,
    pub records: Vec<TruthRecord>,
    /// (side, reason)
    pub removed: Vec<(u32, String)>,
}

const SPECIALTIES: &[&str] = &["cardiology", "respiratory", "oncology", "orthopaedics"];
const DOC_TYPES: &[&str] = &["correspondence", "clinical_note", "results", "referral"];

struct Planner {
    rng: Rng,
    duplex: bool,
    sides: Vec<SideKind>,
    truth: Truth,
}

/// Plans a stack: the sides in feed order and the truth.
pub fn plan(spec: &StackSpec) -> (Vec<SideKind>, Truth) {
    let mut p = Planner {
        rng: Rng::new(spec.seed),
        duplex: spec.duplex,
        sides: Vec::new(),
        truth: Truth::default(),
    };
    if spec.target_first {
        let s = p.push(SideKind::Target);
        p.removed(s, "control_sheet");
        p.control_back();
    }
    for i in 0..spec.records {
        p.record(i);
    }
    p.truth.sides = p.sides.len() as u32;
    (p.sides, p.truth)
}

impl Planner {
    fn push(&mut self, kind: SideKind) -> u32 {
        self.sides.push(kind);
        self.sides.len() as u32 - 1
    }

    fn removed(&mut self, side: u32, reason: &str) {
        self.truth.removed.push((side, reason.to_string()));
    }

    fn record(&mut self, index: usize) {
        let use_nhs = index % 3 != 2;
        let (patient_id, mut rec) = if use_nhs {
            let n = self.nhs();
            (
                n.clone(),
                TruthRecord {
                    nhs_number: Some(n),
                    ..Default::default()
                },
            )
        } else {
            let h = format!("RX{:06}", self.rng.below(1_000_000));
            (
                h.clone(),
                TruthRecord {
                    hospital_number: Some(h),
                    ..Default::default()
                },
            )
        };
        let specialty = self
            .rng
            .chance(0.6)
            .then(|| self.rng.pick(SPECIALTIES).to_string());
        rec.specialty = specialty.clone();
        let code = record_code(&patient_id, specialty.as_deref());
        let words = vec![
            format!("PATIENT RECORD {patient_id}"),
            specialty.clone().unwrap_or_default(),
        ];
        let s = self.push(SideKind::RecordSheet { code, words });
        self.removed(s, "control_sheet");
        self.control_back();
        let docs = 1 + self.rng.below(3);
        for d in 0..docs {
            let doc_type = if d == 0 && self.rng.chance(0.5) {
                None
            } else {
                let t = self.rng.pick(DOC_TYPES).to_string();
                let s = self.push(SideKind::DocSheet {
                    code: document_code(&t),
                    words: vec![format!("DOCUMENT {t}")],
                });
                self.removed(s, "control_sheet");
                self.control_back();
                Some(t)
            };
            let doc = self.document(doc_type, &patient_id, use_nhs);
            rec.documents.push(doc);
        }
        self.truth.records.push(rec);
    }

    fn control_back(&mut self) {
        if self.duplex {
            let s = self.push(SideKind::ControlBack);
            self.removed(s, "control_sheet");
        }
    }

    fn nhs(&mut self) -> String {
        loop {
            let nine = format!("{:09}", self.rng.next_u64() % 1_000_000_000);
            if let Some(n) = complete_nhs_number(&nine) {
                return n;
            }
        }
    }

    fn document(&mut self, doc_type: Option<String>, patient: &str, nhs: bool) -> TruthDocument {
        let mut doc = TruthDocument {
            doc_type,
            ..Default::default()
        };
        let sheets = 1 + self.rng.below(3);
        for _ in 0..sheets {
            self.face(&mut doc, patient, nhs);
            if self.duplex {
                if self.rng.chance(0.6) {
                    let bleed = self.rng.chance(0.5);
                    let s = self.push(SideKind::Blank { bleed });
                    self.removed(s, "blank");
                } else {
                    self.face(&mut doc, patient, nhs);
                }
            }
        }
        doc
    }

    /// One content side, with a label that matches, is misfiled, or is invalid.
    fn face(&mut self, doc: &mut TruthDocument, patient: &str, nhs: bool) {
        let roll = self.rng.f32();
        let (kind, flag) = if roll < 0.1 {
            (
                SideKind::NearBlank {
                    lines: 1 + self.rng.below(2),
                },
                None,
            )
        } else if roll < 0.35 {
            let sym = if nhs {
                *self.rng.pick(&[Symbology::Code128, Symbology::Qr])
            } else {
                Symbology::Code39
            };
            (
                SideKind::Clinical {
                    label: Some(Label {
                        text: patient.to_string(),
                        symbology: sym,
                    }),
                },
                None,
            )
        } else if roll < 0.45 && nhs {
            let other = self.nhs();
            let label = Label {
                text: other,
                symbology: Symbology::Code128,
            };
            (
                SideKind::Clinical { label: Some(label) },
                Some("misfiled_identifier"),
            )
        } else if roll < 0.5 && nhs {
            let mut bad = patient.to_string();
            let last = bad.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
            bad.push_str(&((last + 1) % 10).to_string());
            let label = Label {
                text: bad,
                symbology: Symbology::Code128,
            };
            // A wrong check digit is also another number: both flags.
            doc.page_flags
                .push((self.sides.len() as u32, "invalid_nhs_number".into()));
            (
                SideKind::Clinical { label: Some(label) },
                Some("misfiled_identifier"),
            )
        } else {
            (SideKind::Clinical { label: None }, None)
        };
        let s = self.push(kind);
        doc.sides.push(s);
        if let Some(f) = flag {
            doc.page_flags.push((s, f.to_string()));
        }
    }
}
