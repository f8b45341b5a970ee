package pickle

import (
	"fmt"

	"modelgate/internal/limits"
)

func limitsExceeded(name string, v, max, off int64) error { return limits.Exceeded(name, v, max, off) }

func (m *Machine) streamStart() int64 { return m.st.start }

// lookup resolves a GLOBAL/INST/STACK_GLOBAL name pair as find_class does,
// applying the Python 2 renames to protocol < 3 streams, and reports it.
func (m *Machine) lookup(op Op, off int64, module, name string) *Value {
	g := &Global{Module: module, Name: name, Op: op, Off: off, Proto: m.st.proto}
	if m.st.proto < 3 {
		if r, ok := py2NameMapping[[2]string{module, name}]; ok {
			g.Module, g.Name = r[0], r[1]
		} else if r, ok := py2ImportMapping[module]; ok {
			g.Module = r
		}
		if g.Module != module || g.Name != name {
			g.RawModule, g.RawName = module, name
		}
	}
	m.v.Global(g)
	v := m.newValue(KindGlobal, off)
	v.Global = g
	return v
}

// mayBeStr reports whether a value could be a str when the real load runs:
// anything a call produced could be.
func mayBeStr(v *Value) bool {
	switch v.Kind {
	case KindObject, KindPersistent, KindGlobal:
		return true
	}
	return false
}

func (m *Machine) stackGlobal(op Op, off int64, modV, nameV *Value) error {
	if modV.Kind == KindStr && nameV.Kind == KindStr {
		return m.push(m.lookup(op, off, modV.Str, nameV.Str), off)
	}
	if (modV.Kind == KindStr || mayBeStr(modV)) && (nameV.Kind == KindStr || mayBeStr(nameV)) {
		g := &Global{Op: op, Off: off, Proto: m.st.proto, Computed: true, ModuleVal: modV, NameVal: nameV}
		if modV.Kind == KindStr {
			g.Module = modV.Str
		}
		if nameV.Kind == KindStr {
			g.Name = nameV.Str
		}
		m.v.Global(g)
		v := m.newValue(KindGlobal, off)
		v.Global = g
		return m.push(v, off)
	}
	return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("STACK_GLOBAL requires str (got %s and %s)", modV.Kind, nameV.Kind)}
}

// callable reports whether a value can be called at load time. Literals
// cannot: the unpickler raises TypeError there.
func callable(v *Value) bool {
	switch v.Kind {
	case KindGlobal, KindObject, KindPersistent:
		return true
	}
	return false
}

func (m *Machine) notCallable(fn *Value, op Op, off int64) error {
	if callable(fn) {
		return nil
	}
	return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("'%s' object is not callable", fn.Kind)}
}

func (m *Machine) tuple(items []*Value, off int64) *Value {
	t := m.newValue(KindTuple, off)
	var ok bool
	t.Items, ok = m.copyItems(items, off)
	t.Truncated = !ok
	return t
}

// call records a call and returns its symbolic result.
func (m *Machine) call(op Op, off int64, callee, args, kwargs *Value, isNew bool) *Value {
	c := &Call{ID: m.st.calls, Op: op, Off: off, Callee: callee, Args: args, Kwargs: kwargs, New: isNew}
	m.st.calls++
	res := m.newValue(KindObject, off)
	res.Call = c
	c.Result = res
	if callable(callee) {
		m.v.Call(c)
	}
	return res
}

// methodCall records a method an opcode calls on an object implicitly.
func (m *Machine) methodCall(op Op, off int64, target *Value, method string, args []*Value) {
	c := &Call{ID: -1, Op: op, Off: off, Callee: target, Method: method, Args: m.tuple(args, off)}
	m.v.Call(c)
}

// instantiate is the unpickler's _instantiate for INST and OBJ: it calls the
// class with the arguments (or cls.__new__ when there are none).
func (m *Machine) instantiate(op Op, off int64, cls *Value, args []*Value) error {
	if !callable(cls) {
		return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("'%s' object is not callable", cls.Kind)}
	}
	res := m.call(op, off, cls, m.tuple(args, off), nil, len(args) == 0)
	return m.push(res, off)
}

// setstateAttr finds a __setstate__ attribute that earlier BUILDs of the
// stream stored on obj (in the state dict or the slot-state dict).
func setstateAttr(obj *Value) *Value {
	if obj.Kind != KindObject || obj.Call == nil {
		return nil
	}
	states := obj.Call.States
	for i := len(states) - 1; i >= 0; i-- {
		if v := dictLookup(states[i], "__setstate__"); v != nil {
			return v
		}
		if st := states[i]; st.Kind == KindTuple && len(st.Items) == 2 {
			for _, d := range st.Items {
				if v := dictLookup(d, "__setstate__"); v != nil {
					return v
				}
			}
		}
	}
	return nil
}

// dictLookup returns d[key] for a dict value with a literal str key.
func dictLookup(d *Value, key string) *Value {
	if d == nil || d.Kind != KindDict {
		return nil
	}
	var found *Value
	for i := 0; i+1 < len(d.Items); i += 2 {
		if k := d.Items[i]; k.Kind == KindStr && k.Str == key {
			found = d.Items[i+1]
		}
	}
	return found
}

// falsy reports values whose BUILD is a no-op even on objects without a
// __dict__ (the unpickler skips empty state).
func falsy(v *Value) bool {
	switch v.Kind {
	case KindNone:
		return true
	case KindBool, KindInt:
		return v.Int == 0
	case KindStr, KindBytes:
		return v.Len() == 0
	case KindTuple, KindList, KindDict, KindSet, KindFrozenSet:
		return len(v.Items) == 0 && !v.Truncated
	}
	return false
}

func (m *Machine) build(op Op, off int64, inst, state *Value) error {
	switch inst.Kind {
	case KindObject:
		if fn := setstateAttr(inst); fn != nil {
			// The stream set __setstate__ itself: this BUILD calls it.
			c := &Call{ID: m.st.calls, Op: op, Off: off, Callee: fn, Method: "", Args: m.tuple([]*Value{state}, off)}
			m.st.calls++
			if callable(fn) {
				m.v.Call(c)
			}
			return nil
		}
		if m.retain(1, off) {
			inst.Call.States = append(inst.Call.States, state)
		}
		m.v.Build(inst, state, off)
		return nil
	case KindGlobal, KindPersistent, KindBuffer:
		m.v.Build(inst, state, off)
		return nil
	}
	if falsy(state) {
		return nil
	}
	return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("'%s' object has no attribute '__dict__'", inst.Kind)}
}

var containerMethod = map[Op]string{
	APPEND: "append", APPENDS: "extend", SETITEM: "__setitem__", SETITEMS: "__setitem__", ADDITEMS: "add",
}

func (m *Machine) addItems(op Op, off int64, items []*Value) error {
	target, err := m.top(off, op)
	if err != nil {
		return err
	}
	pairs := op == SETITEM || op == SETITEMS
	switch target.Kind {
	case KindList:
		if pairs {
			return nil // list[i] = v: legal for int keys, no new contents
		}
		if op == ADDITEMS {
			break
		}
		m.appendItems(target, items, off)
		return nil
	case KindDict:
		if !pairs {
			break
		}
		even := items[:len(items)&^1]
		m.appendItems(target, even, off)
		if len(items)%2 != 0 {
			return &StreamError{Off: off, Op: op, Msg: "odd number of items for SETITEMS"}
		}
		return nil
	case KindSet:
		if op != ADDITEMS {
			break
		}
		m.appendItems(target, items, off)
		return nil
	case KindObject, KindGlobal, KindPersistent:
		m.methodCall(op, off, target, containerMethod[op], items)
		if target.Kind == KindObject {
			if pairs {
				items = items[:len(items)&^1]
			}
			m.appendItems(target, items, off)
		}
		if pairs && len(items)%2 != 0 {
			return &StreamError{Off: off, Op: op, Msg: "odd number of items for SETITEMS"}
		}
		return nil
	}
	return &StreamError{Off: off, Op: op, Msg: fmt.Sprintf("'%s' object has no attribute '%s'", target.Kind, containerMethod[op])}
}

func (m *Machine) appendItems(target *Value, items []*Value, off int64) {
	if len(items) == 0 {
		return
	}
	if !m.retain(len(items), off) {
		target.Truncated = true
		return
	}
	target.Items = append(target.Items, items...)
}

func (m *Machine) persistent(pid *Value, off int64) error {
	v := m.newValue(KindPersistent, off)
	v.Items = []*Value{pid}
	m.v.Persistent(pid, v, off)
	return m.push(v, off)
}
