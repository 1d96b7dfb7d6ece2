package extension

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// plan is the result of matching a handler to bindings.
type plan struct {
	slots      []slot
	result     resultPlan
	paramTypes map[int]reflect.Type // binding index -> param type (element type for many); index+len: slice type
	outTypes   map[int]reflect.Type // output binding index -> item type
}

func planHandler(spec *FunctionSpec, bindings []*BindingSpec, h Handler) (*plan, error) {
	where := spec.Where
	p := &plan{paramTypes: map[int]reflect.Type{}, outTypes: map[int]reflect.Type{}, result: resultPlan{ret: -1}}
	trig := -1
	var inputs, outs []int
	ret := -1
	for i, b := range bindings {
		switch {
		case b.IsTrigger():
			trig = i
		case b.Name == "$return":
			if b.Direction != DirOut {
				return nil, fmt.Errorf("%s: name: $return is only valid on an out binding: %w", b.Where, ErrInvalidConfig)
			}
			ret = i
		case b.Direction == DirIn || b.Direction == DirInOut:
			inputs = append(inputs, i)
			if b.Direction == DirInOut {
				outs = append(outs, i)
			}
		case b.Direction == DirOut:
			outs = append(outs, i)
		}
	}
	written := map[int]bool{}
	byName := func(name string) int {
		for i, b := range bindings {
			if strings.EqualFold(b.Name, name) {
				return i
			}
		}
		return -1
	}
	// Result.
	if rt := h.result; rt != nil {
		if fields := taggedFields(rt); fields != nil || (rt.Kind() == reflect.Pointer && taggedFields(rt.Elem()) != nil) {
			if fields == nil {
				fields = taggedFields(rt.Elem())
			}
			for _, fd := range fields {
				i := byName(fd.Tag.Get("azbind"))
				if i < 0 || bindings[i].IsTrigger() || (bindings[i].Direction != DirOut && bindings[i].Direction != DirInOut) {
					return nil, fmt.Errorf("%s: result field %s is tagged azbind:%q but the function has no out binding of that name: %w", where, fd.Name, fd.Tag.Get("azbind"), ErrInvalidConfig)
				}
				p.result.fields = append(p.result.fields, fieldRoute{index: fd.Index, out: i, typ: fd.Type})
				p.outTypes[i] = itemType(fd.Type)
				written[i] = true
			}
		} else {
			if ret < 0 {
				return nil, fmt.Errorf("%s: the handler returns %v but the function declares no \"$return\" out binding: add one, or return only error: %w", where, rt, ErrInvalidConfig)
			}
			p.result.ret = ret
			p.result.typ = rt
			p.outTypes[ret] = itemType(rt)
			written[ret] = true
		}
	}
	if ret >= 0 && !written[ret] {
		return nil, fmt.Errorf("%s: the function declares a \"$return\" binding but the handler returns only error: return (R, error): %w", where, ErrInvalidConfig)
	}
	// Parameters.
	fill := func(bi int, t reflect.Type) (slot, error) {
		b := bindings[bi]
		switch {
		case bi == trig:
			pt := t
			if b.Many() {
				if t.Kind() != reflect.Slice || isBytesLike(t) {
					return slot{}, fmt.Errorf("%s: cardinality many needs a slice parameter, got %v: %w", b.Where, t, ErrInvalidConfig)
				}
				pt = t.Elem()
				p.paramTypes[bi+len(bindings)] = t
			}
			p.paramTypes[bi] = pt
			return slot{kind: slotTrigger, binding: bi, typ: t, conv: makeConverter(t)}, nil
		case isCollectorType(t):
			if b.Direction != DirOut && b.Direction != DirInOut {
				return slot{}, fmt.Errorf("%s: a *Collector parameter needs an out binding, %q is %q: %w", b.Where, b.Name, b.Direction, ErrInvalidConfig)
			}
			if written[bi] {
				return slot{}, fmt.Errorf("%s: output %q is written by both the result and a Collector: %w", b.Where, b.Name, ErrInvalidConfig)
			}
			written[bi] = true
			p.outTypes[bi] = collectorElem(t)
			return slot{kind: slotCollector, binding: bi, typ: t}, nil
		case b.Direction == DirIn || b.Direction == DirInOut:
			p.paramTypes[bi] = t
			return slot{kind: slotInput, binding: bi, typ: t, conv: makeConverter(t)}, nil
		}
		return slot{}, fmt.Errorf("%s: binding %q (direction %s) cannot be a handler parameter of type %v; outputs are written through the result or a *extension.Collector[T] parameter: %w", b.Where, b.Name, b.Direction, t, ErrInvalidConfig)
	}
	// Parameters (and bindings-struct fields) whose type is one of the trigger's Extras take the
	// event's value of that type and no binding position.
	var extras []reflect.Type
	if trig >= 0 {
		if bt, _, ok := driver.Lookup(bindings[trig].Type); ok {
			extras = bt.Extras
		}
	}
	isExtra := func(t reflect.Type) bool {
		for _, x := range extras {
			if t == x || t.Kind() == reflect.Interface && t.NumMethod() > 0 && x.Implements(t) {
				return true
			}
		}
		return false
	}
	var positional []int // indexes of h.params that are not extras
	p.slots = make([]slot, len(h.params))
	for i, t := range h.params {
		if isExtra(t) {
			p.slots[i] = slot{kind: slotExtra, typ: t}
		} else {
			positional = append(positional, i)
		}
	}
	used := map[int]bool{}
	if len(positional) == 1 && taggedFields(h.params[positional[0]]) != nil {
		st := h.params[positional[0]]
		s := slot{kind: slotStruct, typ: st}
		for _, fd := range reflect.VisibleFields(st) {
			if _, tagged := fd.Tag.Lookup("azbind"); !tagged && fd.IsExported() && !fd.Anonymous && isExtra(fd.Type) {
				if e := unexportedEmbeddedPtr(st, fd.Index); e != "" {
					return nil, fmt.Errorf("%s: parameter field %s is promoted through the unexported embedded pointer %s, which the runtime cannot allocate: export its type or embed it by value: %w", where, fd.Name, e, ErrInvalidConfig)
				}
				s.fields = append(s.fields, fieldSlot{index: fd.Index, slot: slot{kind: slotExtra, typ: fd.Type}})
			}
		}
		for _, fd := range taggedFields(st) {
			i := byName(fd.Tag.Get("azbind"))
			if i < 0 {
				return nil, fmt.Errorf("%s: parameter field %s is tagged azbind:%q but the function has no binding of that name: %w", where, fd.Name, fd.Tag.Get("azbind"), ErrInvalidConfig)
			}
			if e := unexportedEmbeddedPtr(st, fd.Index); e != "" {
				return nil, fmt.Errorf("%s: parameter field %s is promoted through the unexported embedded pointer %s, which the runtime cannot allocate: export its type or embed it by value: %w", where, fd.Name, e, ErrInvalidConfig)
			}
			fs, err := fill(i, fd.Type)
			if err != nil {
				return nil, err
			}
			used[i] = true
			s.fields = append(s.fields, fieldSlot{index: fd.Index, slot: fs})
		}
		p.slots[positional[0]] = s
	} else {
		order := append([]int{}, inputs...)
		if trig >= 0 {
			order = append([]int{trig}, order...)
		}
		for _, o := range outs {
			if !written[o] {
				order = append(order, o)
			}
		}
		if len(positional) > len(order) {
			return nil, fmt.Errorf("%s: the handler %s takes %d parameters after ctx but the function has only %d bindings that can feed parameters (trigger, inputs, then Collectors for outputs): %w", where, h.desc, len(positional), len(order), ErrInvalidConfig)
		}
		for k, i := range positional {
			s, err := fill(order[k], h.params[i])
			if err != nil {
				return nil, err
			}
			used[order[k]] = true
			p.slots[i] = s
		}
	}
	if trig >= 0 && !used[trig] {
		// A handler may ignore the trigger value only if it takes no binding parameters at all.
		if len(positional) > 0 {
			return nil, fmt.Errorf("%s: the handler does not receive the trigger %q: %w", where, bindings[trig].Name, ErrInvalidConfig)
		}
		p.paramTypes[trig] = nil
	}
	for _, i := range inputs {
		if !used[i] && bindings[i].Direction == DirIn {
			return nil, fmt.Errorf("%s: input binding %q is not received by the handler %s: add a parameter (after the trigger, in declaration order) or a bindings-struct field: %w", where, bindings[i].Name, h.desc, ErrInvalidConfig)
		}
	}
	for _, o := range outs {
		if !written[o] {
			return nil, fmt.Errorf("%s: output binding %q is not written by the handler %s: return it (field tagged azbind:%q) or take a *extension.Collector[T] parameter: %w", where, bindings[o].Name, h.desc, bindings[o].Name, ErrInvalidConfig)
		}
	}
	return p, nil
}

// itemType is the type of one item written to an output from a value of type t.
func itemType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Slice && !isBytesLike(t) {
		return t.Elem()
	}
	return t
}

// unexportedEmbeddedPtr names the unexported embedded pointer field on the path index of struct
// type t ("" if none).
func unexportedEmbeddedPtr(t reflect.Type, index []int) string {
	for _, x := range index[:len(index)-1] {
		f := t.Field(x)
		t = f.Type
		if t.Kind() == reflect.Pointer {
			if !f.IsExported() {
				return f.Name
			}
			t = t.Elem()
		}
	}
	return ""
}
