//! The SANE C API, declared by hand.
//!
//! Why not a crate: none on the registry binds SANE soundly (`sane-scan` 0.1.2
//! passes a 1-byte bool where SANE reads a 4-byte `SANE_Bool`, panics on unknown
//! page height, turns JAMMED into an empty page and cancels after every page,
//! which aborts a real feeder batch). The API is 14 functions and 4 structs.
//! Statuses and frame formats stay plain integers: backends return values the
//! header's enums lack (12 warming up, 13 hardware locked).

use std::os::raw::{c_char, c_int, c_void};

pub type Status = c_int;
pub type Handle = *mut c_void;

pub const STATUS_GOOD: Status = 0;
pub const STATUS_UNSUPPORTED: Status = 1;
pub const STATUS_CANCELLED: Status = 2;
pub const STATUS_DEVICE_BUSY: Status = 3;
pub const STATUS_INVAL: Status = 4;
pub const STATUS_EOF: Status = 5;
pub const STATUS_JAMMED: Status = 6;
pub const STATUS_NO_DOCS: Status = 7;
pub const STATUS_COVER_OPEN: Status = 8;
pub const STATUS_IO_ERROR: Status = 9;
pub const STATUS_NO_MEM: Status = 10;
pub const STATUS_ACCESS_DENIED: Status = 11;

pub const FRAME_GRAY: c_int = 0;
pub const FRAME_RGB: c_int = 1;
pub const FRAME_RED: c_int = 2;
pub const FRAME_GREEN: c_int = 3;
pub const FRAME_BLUE: c_int = 4;

pub const TYPE_BOOL: c_int = 0;
pub const TYPE_INT: c_int = 1;
pub const TYPE_FIXED: c_int = 2;
pub const TYPE_STRING: c_int = 3;
pub const TYPE_BUTTON: c_int = 4;
pub const TYPE_GROUP: c_int = 5;

pub const CONSTRAINT_RANGE: c_int = 1;
pub const CONSTRAINT_WORD_LIST: c_int = 2;
pub const CONSTRAINT_STRING_LIST: c_int = 3;

pub const CAP_SOFT_SELECT: c_int = 1;
pub const CAP_INACTIVE: c_int = 1 << 5;

pub const ACTION_GET_VALUE: c_int = 0;
pub const ACTION_SET_VALUE: c_int = 1;

#[repr(C)]
pub struct Device {
    pub name: *const c_char,
    pub vendor: *const c_char,
    pub model: *const c_char,
    pub kind: *const c_char,
}

#[repr(C)]
pub struct Range {
    pub min: c_int,
    pub max: c_int,
    pub quant: c_int,
}

#[repr(C)]
pub union Constraint {
    pub string_list: *const *const c_char,
    pub word_list: *const c_int,
    pub range: *const Range,
}

#[repr(C)]
pub struct OptionDescriptor {
    pub name: *const c_char,
    pub title: *const c_char,
    pub desc: *const c_char,
    pub value_type: c_int,
    pub unit: c_int,
    pub size: c_int,
    pub cap: c_int,
    pub constraint_type: c_int,
    pub constraint: Constraint,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Parameters {
    pub format: c_int,
    pub last_frame: c_int,
    pub bytes_per_line: c_int,
    pub pixels_per_line: c_int,
    pub lines: c_int,
    pub depth: c_int,
}

pub type AuthCallback = Option<unsafe extern "C" fn(*const c_char, *mut c_char, *mut c_char)>;

#[link(name = "sane")]
unsafe extern "C" {
    pub fn sane_init(version: *mut c_int, auth: AuthCallback) -> Status;
    pub fn sane_exit();
    pub fn sane_get_devices(list: *mut *const *const Device, local_only: c_int) -> Status;
    pub fn sane_open(name: *const c_char, handle: *mut Handle) -> Status;
    pub fn sane_close(handle: Handle);
    pub fn sane_get_option_descriptor(handle: Handle, option: c_int) -> *const OptionDescriptor;
    pub fn sane_control_option(
        handle: Handle,
        option: c_int,
        action: c_int,
        value: *mut c_void,
        info: *mut c_int,
    ) -> Status;
    pub fn sane_get_parameters(handle: Handle, params: *mut Parameters) -> Status;
    pub fn sane_start(handle: Handle) -> Status;
    pub fn sane_read(
        handle: Handle,
        data: *mut u8,
        max_length: c_int,
        length: *mut c_int,
    ) -> Status;
    pub fn sane_cancel(handle: Handle);
    pub fn sane_strstatus(status: Status) -> *const c_char;
}

/// SANE's fixed-point numbers (16.16).
pub fn fixed_to_f64(v: c_int) -> f64 {
    v as f64 / 65536.0
}

pub fn f64_to_fixed(v: f64) -> c_int {
    (v * 65536.0).round() as c_int
}
