package pickle

// argKind says how an opcode's inline argument is encoded in the stream.
type argKind uint8

const (
	argNone        argKind = iota
	argU1                  // 1-byte unsigned
	argU2                  // 2-byte little-endian unsigned
	argI4                  // 4-byte little-endian signed
	argU4                  // 4-byte little-endian unsigned (LONG_BINGET/PUT)
	argU8                  // 8-byte little-endian unsigned (FRAME)
	argF8                  // 8-byte big-endian IEEE 754
	argLine                // newline-terminated text (INT, LONG, FLOAT, GET, PUT, PERSID)
	argStringLine          // newline-terminated Python repr of a str (STRING)
	argUnicodeLine         // newline-terminated raw-unicode-escape text (UNICODE)
	argTwoLines            // "module\nname\n" (GLOBAL, INST)
	argBytes1              // 1-byte length + data
	argBytes4              // 4-byte length + data (signed for BINSTRING)
	argBytes8              // 8-byte length + data
	argLong1               // 1-byte length + two's complement little-endian int
	argLong4               // 4-byte length + two's complement little-endian int
)

// opInfo describes one opcode.
type opInfo struct {
	name  string
	arg   argKind
	proto int
}

// Opcode bytes, named as in CPython's pickletools.
const (
	opMARK            = '('
	opSTOP            = '.'
	opPOP             = '0'
	opPOP_MARK        = '1'
	opDUP             = '2'
	opFLOAT           = 'F'
	opINT             = 'I'
	opBININT          = 'J'
	opBININT1         = 'K'
	opLONG            = 'L'
	opBININT2         = 'M'
	opNONE            = 'N'
	opPERSID          = 'P'
	opBINPERSID       = 'Q'
	opREDUCE          = 'R'
	opSTRING          = 'S'
	opBINSTRING       = 'T'
	opSHORT_BINSTRING = 'U'
	opUNICODE         = 'V'
	opBINUNICODE      = 'X'
	opAPPEND          = 'a'
	opBUILD           = 'b'
	opGLOBAL          = 'c'
	opDICT            = 'd'
	opEMPTY_DICT      = '}'
	opAPPENDS         = 'e'
	opGET             = 'g'
	opBINGET          = 'h'
	opINST            = 'i'
	opLONG_BINGET     = 'j'
	opLIST            = 'l'
	opEMPTY_LIST      = ']'
	opOBJ             = 'o'
	opPUT             = 'p'
	opBINPUT          = 'q'
	opLONG_BINPUT     = 'r'
	opSETITEM         = 's'
	opTUPLE           = 't'
	opEMPTY_TUPLE     = ')'
	opSETITEMS        = 'u'
	opBINFLOAT        = 'G'

	opPROTO    = 0x80
	opNEWOBJ   = 0x81
	opEXT1     = 0x82
	opEXT2     = 0x83
	opEXT4     = 0x84
	opTUPLE1   = 0x85
	opTUPLE2   = 0x86
	opTUPLE3   = 0x87
	opNEWTRUE  = 0x88
	opNEWFALSE = 0x89
	opLONG1    = 0x8a
	opLONG4    = 0x8b

	opBINBYTES       = 'B'
	opSHORT_BINBYTES = 'C'

	opSHORT_BINUNICODE = 0x8c
	opBINUNICODE8      = 0x8d
	opBINBYTES8        = 0x8e
	opEMPTY_SET        = 0x8f
	opADDITEMS         = 0x90
	opFROZENSET        = 0x91
	opNEWOBJ_EX        = 0x92
	opSTACK_GLOBAL     = 0x93
	opMEMOIZE          = 0x94
	opFRAME            = 0x95

	opBYTEARRAY8      = 0x96
	opNEXT_BUFFER     = 0x97
	opREADONLY_BUFFER = 0x98
)

// opcodes is indexed by opcode byte; a zero name means invalid.
var opcodes = func() [256]opInfo {
	var t [256]opInfo
	set := func(c byte, name string, arg argKind, proto int) { t[c] = opInfo{name, arg, proto} }
	set(opMARK, "MARK", argNone, 0)
	set(opSTOP, "STOP", argNone, 0)
	set(opPOP, "POP", argNone, 0)
	set(opPOP_MARK, "POP_MARK", argNone, 1)
	set(opDUP, "DUP", argNone, 0)
	set(opFLOAT, "FLOAT", argLine, 0)
	set(opINT, "INT", argLine, 0)
	set(opBININT, "BININT", argI4, 1)
	set(opBININT1, "BININT1", argU1, 1)
	set(opLONG, "LONG", argLine, 0)
	set(opBININT2, "BININT2", argU2, 1)
	set(opNONE, "NONE", argNone, 0)
	set(opPERSID, "PERSID", argLine, 0)
	set(opBINPERSID, "BINPERSID", argNone, 1)
	set(opREDUCE, "REDUCE", argNone, 0)
	set(opSTRING, "STRING", argStringLine, 0)
	set(opBINSTRING, "BINSTRING", argBytes4, 1)
	set(opSHORT_BINSTRING, "SHORT_BINSTRING", argBytes1, 1)
	set(opUNICODE, "UNICODE", argUnicodeLine, 0)
	set(opBINUNICODE, "BINUNICODE", argBytes4, 1)
	set(opAPPEND, "APPEND", argNone, 0)
	set(opBUILD, "BUILD", argNone, 0)
	set(opGLOBAL, "GLOBAL", argTwoLines, 0)
	set(opDICT, "DICT", argNone, 0)
	set(opEMPTY_DICT, "EMPTY_DICT", argNone, 1)
	set(opAPPENDS, "APPENDS", argNone, 1)
	set(opGET, "GET", argLine, 0)
	set(opBINGET, "BINGET", argU1, 1)
	set(opINST, "INST", argTwoLines, 0)
	set(opLONG_BINGET, "LONG_BINGET", argU4, 1)
	set(opLIST, "LIST", argNone, 0)
	set(opEMPTY_LIST, "EMPTY_LIST", argNone, 1)
	set(opOBJ, "OBJ", argNone, 1)
	set(opPUT, "PUT", argLine, 0)
	set(opBINPUT, "BINPUT", argU1, 1)
	set(opLONG_BINPUT, "LONG_BINPUT", argU4, 1)
	set(opSETITEM, "SETITEM", argNone, 0)
	set(opTUPLE, "TUPLE", argNone, 0)
	set(opEMPTY_TUPLE, "EMPTY_TUPLE", argNone, 1)
	set(opSETITEMS, "SETITEMS", argNone, 1)
	set(opBINFLOAT, "BINFLOAT", argF8, 1)
	set(opPROTO, "PROTO", argU1, 2)
	set(opNEWOBJ, "NEWOBJ", argNone, 2)
	set(opEXT1, "EXT1", argU1, 2)
	set(opEXT2, "EXT2", argU2, 2)
	set(opEXT4, "EXT4", argI4, 2)
	set(opTUPLE1, "TUPLE1", argNone, 2)
	set(opTUPLE2, "TUPLE2", argNone, 2)
	set(opTUPLE3, "TUPLE3", argNone, 2)
	set(opNEWTRUE, "NEWTRUE", argNone, 2)
	set(opNEWFALSE, "NEWFALSE", argNone, 2)
	set(opLONG1, "LONG1", argLong1, 2)
	set(opLONG4, "LONG4", argLong4, 2)
	set(opBINBYTES, "BINBYTES", argBytes4, 3)
	set(opSHORT_BINBYTES, "SHORT_BINBYTES", argBytes1, 3)
	set(opSHORT_BINUNICODE, "SHORT_BINUNICODE", argBytes1, 4)
	set(opBINUNICODE8, "BINUNICODE8", argBytes8, 4)
	set(opBINBYTES8, "BINBYTES8", argBytes8, 4)
	set(opEMPTY_SET, "EMPTY_SET", argNone, 4)
	set(opADDITEMS, "ADDITEMS", argNone, 4)
	set(opFROZENSET, "FROZENSET", argNone, 4)
	set(opNEWOBJ_EX, "NEWOBJ_EX", argNone, 4)
	set(opSTACK_GLOBAL, "STACK_GLOBAL", argNone, 4)
	set(opMEMOIZE, "MEMOIZE", argNone, 4)
	set(opFRAME, "FRAME", argU8, 4)
	set(opBYTEARRAY8, "BYTEARRAY8", argBytes8, 5)
	set(opNEXT_BUFFER, "NEXT_BUFFER", argNone, 5)
	set(opREADONLY_BUFFER, "READONLY_BUFFER", argNone, 5)
	return t
}()

// OpcodeName returns the pickletools name of an opcode byte, or "" when the
// byte is not an opcode.
func OpcodeName(c byte) string { return opcodes[c].name }
