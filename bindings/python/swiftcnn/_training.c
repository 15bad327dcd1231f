/*
 * swiftcnn._swiftcnn, training part: the Optimizer type (an scnn_optimizer*) and the model
 * training calls (train/eval mode, train_step, compute/apply gradients, fit, evaluate, predict,
 * checkpoints), thin
 * wrappers of Include/swiftcnn.h's "Training mode", "Optimizers", "Training" and
 * "Checkpoints" sections. Added to the extension module by scnn_py_add_training(), called
 * from _swiftcnn.c's module init. The Pythonic layer (defaults, label conversion, history,
 * progress bar) is swiftcnn/models.py and swiftcnn/optim.py.
 *
 * Arrays: images are wrapped without a copy (_swiftcnn.c's arg_wrap); labels arrive as a
 * C-contiguous buffer of int32 (the Python layer converts), predictions are written into a
 * caller's int32 buffer.
 *
 * Threads: the GIL is released around every library call. Calls that change the model
 * (train_step, fit, checkpoint load, set_training) register as its writer, evaluate,
 * predict and checkpoint save as readers (_models.c's use counts: a conflicting call from
 * another thread raises RuntimeError). An Optimizer is in use by one call at a time.
 * fit's step and epoch callbacks take the GIL, call the Python callables, and check for
 * signals (Ctrl-C): an exception there stops the fit (its progress is kept, so a later fit
 * resumes) and is raised when fit returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "swiftcnn.h"
#include "_models.h"

static scnn_py_raise_fn raise_status;
static scnn_py_wrap_fn wrap_arg;
static scnn_py_release_fn release_arg;
static scnn_py_tensor_fn tensor_result;

/* ---- Optimizer ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    scnn_optimizer *optimizer;
    PyObject *model; /* the swiftcnn Model it was created for (strong reference) */
    int busy;        /* a call is using it with the GIL released */
} OptimizerObject;

static PyTypeObject OptimizerType;

static int begin_optimizer(OptimizerObject *self)
{
    if (self->optimizer == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "swiftcnn: this Optimizer was not created");
        return 0;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "optimizer: in use by another thread");
        return 0;
    }
    self->busy = 1;
    return 1;
}

static void end_optimizer(OptimizerObject *self)
{
    self->busy = 0;
}

/* Optimizer(model, kind, lr, momentum, nesterov, weight_decay, beta1, beta2, eps). */
static PyObject *optimizer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"model", "kind", "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps",
                             NULL};
    PyObject *model_obj;
    int kind, nesterov;
    float lr, momentum, weight_decay, beta1, beta2, eps;
    scnn_model *model;
    scnn_optimizer *opt = NULL;
    scnn_status st;
    OptimizerObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oiffpffff:Optimizer", kwlist, &model_obj, &kind, &lr, &momentum,
                                     &nesterov, &weight_decay, &beta1, &beta2, &eps))
        return NULL;
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_optimizer_create(model, kind, lr, momentum, nesterov, weight_decay, beta1, beta2, eps, &opt);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 0);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    self = (OptimizerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        scnn_optimizer_destroy(opt);
        return NULL;
    }
    self->optimizer = opt;
    Py_INCREF(model_obj);
    self->model = model_obj;
    self->busy = 0;
    return (PyObject *)self;
}

static void optimizer_dealloc(OptimizerObject *self)
{
    scnn_optimizer_destroy(self->optimizer);
    self->optimizer = NULL;
    Py_CLEAR(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *optimizer_get_lr(OptimizerObject *self, void *closure)
{
    float lr = 0;
    scnn_status st;
    (void)closure;
    if (!begin_optimizer(self))
        return NULL;
    st = scnn_optimizer_get_lr(self->optimizer, &lr);
    end_optimizer(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyFloat_FromDouble((double)lr);
}

static int optimizer_set_lr(OptimizerObject *self, PyObject *value, void *closure)
{
    double lr;
    scnn_status st;
    (void)closure;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "lr cannot be deleted");
        return -1;
    }
    lr = PyFloat_AsDouble(value);
    if (lr == -1.0 && PyErr_Occurred())
        return -1;
    if (!begin_optimizer(self))
        return -1;
    st = scnn_optimizer_set_lr(self->optimizer, (float)lr);
    end_optimizer(self);
    if (st != SCNN_STATUS_OK) {
        raise_status(st, NULL);
        return -1;
    }
    return 0;
}

static PyObject *optimizer_get_progress(OptimizerObject *self, void *closure)
{
    int64_t step = 0, epoch = 0, batch = 0;
    scnn_status st;
    (void)closure;
    if (!begin_optimizer(self))
        return NULL;
    st = scnn_optimizer_progress(self->optimizer, &step, &epoch, &batch);
    end_optimizer(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return Py_BuildValue("(LLL)", (long long)step, (long long)epoch, (long long)batch);
}

static PyObject *optimizer_get_model(OptimizerObject *self, void *closure)
{
    (void)closure;
    if (self->model == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->model);
    return self->model;
}

/* _set_schedule(kind, steps, value): scnn_optimizer_set_schedule. */
static PyObject *optimizer_set_schedule(OptimizerObject *self, PyObject *args)
{
    int kind;
    long long steps;
    float value;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "iLf:_set_schedule", &kind, &steps, &value))
        return NULL;
    if (!begin_optimizer(self))
        return NULL;
    st = scnn_optimizer_set_schedule(self->optimizer, kind, (int64_t)steps, value);
    end_optimizer(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* _checkpoint(path, load): scnn_checkpoint_save / scnn_checkpoint_load with the optimizer's model. */
static PyObject *optimizer_checkpoint(OptimizerObject *self, PyObject *args)
{
    PyObject *path_obj, *bytes = NULL;
    int load;
    scnn_model *model;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "Op:_checkpoint", &path_obj, &load))
        return NULL;
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return NULL;
    if (!begin_optimizer(self)) {
        Py_DECREF(bytes);
        return NULL;
    }
    model = scnn_py_model_begin(self->model, load);
    if (model == NULL) {
        end_optimizer(self);
        Py_DECREF(bytes);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (load)
        st = scnn_checkpoint_load(model, self->optimizer, PyBytes_AS_STRING(bytes));
    else
        st = scnn_checkpoint_save(model, self->optimizer, PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS
    scnn_py_model_end(self->model, load);
    end_optimizer(self);
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* Runs `body(self, model, data)` with the optimizer in use and its model registered as a
 * reader (write 0) or writer (write 1); the GIL is held (the calls are short copies) unless
 * `release`. Returns the status, or -1 with a Python exception set. */
typedef scnn_status (*optimizer_call_fn)(OptimizerObject *self, scnn_model *model, void *data);

static int optimizer_with_model(OptimizerObject *self, int write, int release, optimizer_call_fn body, void *data,
                                scnn_status *st)
{
    scnn_model *model;
    if (!begin_optimizer(self))
        return 0;
    model = scnn_py_model_begin(self->model, write);
    if (model == NULL) {
        end_optimizer(self);
        return 0;
    }
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        *st = body(self, model, data);
        Py_END_ALLOW_THREADS
    } else {
        *st = body(self, model, data);
    }
    scnn_py_model_end(self->model, write);
    end_optimizer(self);
    if (*st != SCNN_STATUS_OK) {
        raise_status(*st, NULL);
        return 0;
    }
    return 1;
}

typedef struct {
    PyObject *list;
} LayoutCall;

static scnn_status layout_body(OptimizerObject *self, scnn_model *model, void *data)
{
    LayoutCall *call = (LayoutCall *)data;
    int64_t i, count = scnn_optimizer_gradient_count(self->optimizer);
    (void)model;
    call->list = PyList_New((Py_ssize_t)count);
    if (call->list == NULL)
        return SCNN_STATUS_OUT_OF_MEMORY;
    for (i = 0; i < count; i++) {
        const char *name = NULL;
        int64_t shape[8];
        int32_t rank = 0, d;
        PyObject *dims, *item;
        scnn_status st = scnn_optimizer_gradient_info(self->optimizer, i, &name, shape, 8, &rank);
        if (st != SCNN_STATUS_OK || name == NULL) {
            Py_CLEAR(call->list);
            return st != SCNN_STATUS_OK ? st : SCNN_STATUS_INTERNAL;
        }
        dims = PyTuple_New(rank);
        for (d = 0; dims != NULL && d < rank; d++)
            PyTuple_SET_ITEM(dims, d, PyLong_FromLongLong((long long)shape[d]));
        item = dims == NULL ? NULL : Py_BuildValue("(sN)", name, dims);
        if (item == NULL) {
            Py_CLEAR(call->list);
            return SCNN_STATUS_OUT_OF_MEMORY;
        }
        PyList_SET_ITEM(call->list, (Py_ssize_t)i, item);
    }
    return SCNN_STATUS_OK;
}

/* _gradient_layout() -> [(name, shape), ...]: scnn_optimizer_gradient_count / _info. */
static PyObject *optimizer_gradient_layout(OptimizerObject *self, PyObject *unused)
{
    LayoutCall call = {NULL};
    scnn_status st = SCNN_STATUS_OK;
    (void)unused;
    if (!optimizer_with_model(self, 0, 0, layout_body, &call, &st)) {
        Py_XDECREF(call.list);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return NULL;
    }
    return call.list;
}

static scnn_status size_body(OptimizerObject *self, scnn_model *model, void *data)
{
    (void)model;
    return scnn_optimizer_gradient_size(self->optimizer, (int64_t *)data);
}

/* _gradient_size() -> int: scnn_optimizer_gradient_size. */
static PyObject *optimizer_gradient_size(OptimizerObject *self, PyObject *unused)
{
    int64_t size = 0;
    scnn_status st;
    (void)unused;
    if (!optimizer_with_model(self, 0, 0, size_body, &size, &st))
        return NULL;
    return PyLong_FromLongLong((long long)size);
}

static scnn_status get_body(OptimizerObject *self, scnn_model *model, void *data)
{
    Py_buffer *view = (Py_buffer *)data;
    (void)model;
    return scnn_optimizer_get_gradients(self->optimizer, (float *)view->buf, (int64_t)(view->len / (Py_ssize_t)sizeof(float)));
}

static scnn_status set_body(OptimizerObject *self, scnn_model *model, void *data)
{
    Py_buffer *view = (Py_buffer *)data;
    (void)model;
    return scnn_optimizer_set_gradients(self->optimizer, (const float *)view->buf,
                                        (int64_t)(view->len / (Py_ssize_t)sizeof(float)));
}

/* _get_gradients(out) / _set_gradients(values): scnn_optimizer_get_gradients into a writable
 * aligned float32 buffer / scnn_optimizer_set_gradients from one (the Python layer makes it). */
static PyObject *optimizer_gradients_io(OptimizerObject *self, PyObject *obj, int set)
{
    Py_buffer view;
    scnn_status st;
    int ok;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (set ? 0 : PyBUF_WRITABLE)) < 0)
        return NULL;
    if (view.itemsize != (Py_ssize_t)sizeof(float) || view.format == NULL || strcmp(view.format, "f") != 0 ||
        ((uintptr_t)view.buf) % sizeof(float) != 0) {
        PyErr_SetString(PyExc_TypeError, "gradients: expected an aligned float32 buffer");
        PyBuffer_Release(&view);
        return NULL;
    }
    ok = optimizer_with_model(self, 0, view.len > (1 << 20), set ? set_body : get_body, &view, &st);
    PyBuffer_Release(&view);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *optimizer_get_gradients(OptimizerObject *self, PyObject *out)
{
    return optimizer_gradients_io(self, out, 0);
}

static PyObject *optimizer_set_gradients(OptimizerObject *self, PyObject *values)
{
    return optimizer_gradients_io(self, values, 1);
}

static scnn_status apply_body(OptimizerObject *self, scnn_model *model, void *data)
{
    (void)data;
    return scnn_optimizer_apply_gradients(model, self->optimizer);
}

static scnn_status clear_body(OptimizerObject *self, scnn_model *model, void *data)
{
    (void)model;
    (void)data;
    return scnn_optimizer_clear_gradients(self->optimizer);
}

/* _apply_gradients(): scnn_optimizer_apply_gradients with the optimizer's model (as writer). */
static PyObject *optimizer_apply_gradients(OptimizerObject *self, PyObject *unused)
{
    scnn_status st;
    (void)unused;
    if (!optimizer_with_model(self, 1, 1, apply_body, NULL, &st))
        return NULL;
    Py_RETURN_NONE;
}

/* _clear_gradients(): scnn_optimizer_clear_gradients. */
static PyObject *optimizer_clear_gradients(OptimizerObject *self, PyObject *unused)
{
    scnn_status st;
    (void)unused;
    if (!optimizer_with_model(self, 0, 0, clear_body, NULL, &st))
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef optimizer_methods[] = {
    {"_set_schedule", (PyCFunction)optimizer_set_schedule, METH_VARARGS,
     "_set_schedule(kind, steps, value): scnn_optimizer_set_schedule."},
    {"_checkpoint", (PyCFunction)optimizer_checkpoint, METH_VARARGS,
     "_checkpoint(path, load): scnn_checkpoint_load (load true) or scnn_checkpoint_save."},
    {"_gradient_layout", (PyCFunction)optimizer_gradient_layout, METH_NOARGS,
     "_gradient_layout() -> [(name, shape)]: scnn_optimizer_gradient_count and _info."},
    {"_gradient_size", (PyCFunction)optimizer_gradient_size, METH_NOARGS,
     "_gradient_size() -> int: scnn_optimizer_gradient_size."},
    {"_get_gradients", (PyCFunction)optimizer_get_gradients, METH_O,
     "_get_gradients(out_float32): scnn_optimizer_get_gradients."},
    {"_set_gradients", (PyCFunction)optimizer_set_gradients, METH_O,
     "_set_gradients(values_float32): scnn_optimizer_set_gradients."},
    {"_apply_gradients", (PyCFunction)optimizer_apply_gradients, METH_NOARGS,
     "_apply_gradients(): scnn_optimizer_apply_gradients."},
    {"_clear_gradients", (PyCFunction)optimizer_clear_gradients, METH_NOARGS,
     "_clear_gradients(): scnn_optimizer_clear_gradients."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef optimizer_getset[] = {
    {"lr", (getter)optimizer_get_lr, (setter)optimizer_set_lr,
     "The learning rate of the next step (set: the base rate of the schedule).", NULL},
    {"progress", (getter)optimizer_get_progress, NULL,
     "(steps taken, epoch, batch within the epoch) where the next fit starts.", NULL},
    {"model", (getter)optimizer_get_model, NULL, "The model this optimizer trains.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject OptimizerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftcnn._swiftcnn.Optimizer",
    .tp_basicsize = sizeof(OptimizerObject),
    .tp_dealloc = (destructor)optimizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Optimizer(model, kind, lr, momentum, nesterov, weight_decay, beta1, beta2, eps): "
              "scnn_optimizer_create. Use swiftcnn.optim (SGD, Adam, AdamW), which subclass this.",
    .tp_methods = optimizer_methods,
    .tp_getset = optimizer_getset,
    .tp_new = optimizer_new,
};

static OptimizerObject *optimizer_arg(PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &OptimizerType)) {
        PyErr_Format(PyExc_TypeError, "optimizer: expected a swiftcnn.optim optimizer, got %.200s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return (OptimizerObject *)obj;
}

/* ---- arguments ------------------------------------------------------------------------ */

/* A buffer of int32 labels (the Python layer makes a C-contiguous int32 array). */
static int labels_arg(PyObject *obj, const char *name, Py_buffer *view, int64_t *count)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0)
        return 0;
    if (view->len % (Py_ssize_t)sizeof(int32_t) != 0 || view->itemsize != (Py_ssize_t)sizeof(int32_t)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an int32 buffer", name);
        PyBuffer_Release(view);
        return 0;
    }
    *count = (int64_t)(view->len / (Py_ssize_t)sizeof(int32_t));
    return 1;
}

/* ---- model calls ---------------------------------------------------------------------- */

/* set_training(model, training: bool): scnn_model_set_training. */
static PyObject *py_set_training(PyObject *self, PyObject *args)
{
    PyObject *model_obj;
    int training;
    scnn_model *model;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Op:set_training", &model_obj, &training))
        return NULL;
    model = scnn_py_model_begin(model_obj, 1);
    if (model == NULL)
        return NULL;
    st = scnn_model_set_training(model, training);
    scnn_py_model_end(model_obj, 1);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* is_training(model) -> bool: scnn_model_is_training. */
static PyObject *py_is_training(PyObject *self, PyObject *model_obj)
{
    scnn_model *model;
    int32_t v;
    (void)self;
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL)
        return NULL;
    v = scnn_model_is_training(model);
    scnn_py_model_end(model_obj, 0);
    return PyBool_FromLong(v == 1);
}

/* The signature of scnn_model_train_step and scnn_model_compute_gradients. */
typedef scnn_status (*step_fn)(scnn_model *, scnn_optimizer *, const scnn_tensor *, const int32_t *, int64_t, float *);

/* (model, optimizer, images, labels_int32) -> float: `fn` with the model as writer. */
static PyObject *step_call(PyObject *args, const char *format, step_fn fn)
{
    PyObject *model_obj, *opt_obj, *x_obj, *y_obj;
    OptimizerObject *opt;
    scnn_py_arg x;
    Py_buffer y;
    int64_t n = 0;
    float loss = 0;
    scnn_model *model;
    scnn_status st = SCNN_STATUS_OK;
    if (!PyArg_ParseTuple(args, format, &model_obj, &opt_obj, &x_obj, &y_obj))
        return NULL;
    if ((opt = optimizer_arg(opt_obj)) == NULL)
        return NULL;
    if (!wrap_arg(x_obj, "x", 0, &x))
        return NULL;
    if (!labels_arg(y_obj, "y", &y, &n)) {
        release_arg(&x);
        return NULL;
    }
    if (!begin_optimizer(opt)) {
        PyBuffer_Release(&y);
        release_arg(&x);
        return NULL;
    }
    model = scnn_py_model_begin(model_obj, 1);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = fn(model, opt->optimizer, x.tensor, (const int32_t *)y.buf, n, &loss);
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 1);
    }
    end_optimizer(opt);
    PyBuffer_Release(&y);
    release_arg(&x);
    if (model == NULL)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyFloat_FromDouble((double)loss);
}

/* train_step(model, optimizer, images, labels_int32) -> float: scnn_model_train_step. */
static PyObject *py_train_step(PyObject *self, PyObject *args)
{
    (void)self;
    return step_call(args, "OOOO:train_step", scnn_model_train_step);
}

/* compute_gradients(model, optimizer, images, labels_int32) -> float: scnn_model_compute_gradients. */
static PyObject *py_compute_gradients(PyObject *self, PyObject *args)
{
    (void)self;
    return step_call(args, "OOOO:compute_gradients", scnn_model_compute_gradients);
}

/* The Python side of fit's callbacks. */
typedef struct {
    PyObject *on_step;  /* callable(epoch, step, batch, batches_per_epoch, loss, lr) -> bool, or None */
    PyObject *on_epoch; /* callable(epoch, loss, accuracy, val_loss|None, val_accuracy|None) -> bool, or None */
    int failed;         /* a callback raised (or a signal arrived): the exception is set */
} FitContext;

/* Calls `fn(args)` (steals args) with the GIL held; returns 1 to go on, 0 to stop. */
static int32_t fit_call(FitContext *ctx, PyObject *fn, PyObject *call_args)
{
    int go = 1;
    if (call_args == NULL) {
        ctx->failed = 1;
        return 0;
    }
    if (fn != Py_None) {
        PyObject *r = PyObject_CallObject(fn, call_args);
        if (r == NULL) {
            go = 0;
            ctx->failed = 1;
        } else {
            go = PyObject_IsTrue(r);
            Py_DECREF(r);
            if (go < 0) {
                go = 0;
                ctx->failed = 1;
            }
        }
    }
    Py_DECREF(call_args);
    if (go && PyErr_CheckSignals() < 0) {
        go = 0;
        ctx->failed = 1;
    }
    return go ? 1 : 0;
}

static int32_t fit_on_step(const scnn_step_report *r, void *user)
{
    FitContext *ctx = (FitContext *)user;
    PyGILState_STATE g;
    int32_t go;
    if (ctx->failed)
        return 0;
    g = PyGILState_Ensure();
    go = fit_call(ctx, ctx->on_step,
                  Py_BuildValue("(LLLLdd)", (long long)r->epoch, (long long)r->step, (long long)r->batch,
                                (long long)r->batches_per_epoch, (double)r->loss, (double)r->learning_rate));
    PyGILState_Release(g);
    return go;
}

static int32_t fit_on_epoch(const scnn_epoch_report *r, void *user)
{
    FitContext *ctx = (FitContext *)user;
    PyGILState_STATE g;
    int32_t go;
    if (ctx->failed)
        return 0;
    g = PyGILState_Ensure();
    if (r->has_validation)
        go = fit_call(ctx, ctx->on_epoch,
                      Py_BuildValue("(Lddfd)", (long long)r->epoch, (double)r->loss, r->accuracy,
                                    r->validation_loss, r->validation_accuracy));
    else
        go = fit_call(ctx, ctx->on_epoch,
                      Py_BuildValue("(LddOO)", (long long)r->epoch, (double)r->loss, r->accuracy, Py_None, Py_None));
    PyGILState_Release(g);
    return go;
}

/* fit(model, optimizer, x, y, val_x|None, val_y|None, epochs, batch_size, seed, shuffle, on_step|None,
 *     on_epoch|None) -> None: scnn_model_fit. */
static PyObject *py_fit(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *opt_obj, *x_obj, *y_obj, *vx_obj, *vy_obj, *seed_obj;
    long long epochs, batch_size;
    unsigned long long seed;
    int shuffle;
    OptimizerObject *opt;
    scnn_py_arg x, vx;
    Py_buffer y, vy;
    int has_vy = 0;
    int64_t n = 0, nv = 0;
    FitContext ctx;
    scnn_model *model;
    scnn_status st = SCNN_STATUS_OK;
    PyObject *result = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "OOOOOOLLOpOO:fit", &model_obj, &opt_obj, &x_obj, &y_obj, &vx_obj, &vy_obj, &epochs,
                          &batch_size, &seed_obj, &shuffle, &ctx.on_step, &ctx.on_epoch))
        return NULL;
    ctx.failed = 0;
    seed = PyLong_AsUnsignedLongLong(seed_obj);
    if (seed == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if ((opt = optimizer_arg(opt_obj)) == NULL)
        return NULL;
    if (!wrap_arg(x_obj, "x", 0, &x))
        return NULL;
    if (!wrap_arg(vx_obj, "validation x", 1, &vx)) {
        release_arg(&x);
        return NULL;
    }
    if (!labels_arg(y_obj, "y", &y, &n))
        goto release_x;
    if (vy_obj != Py_None) {
        if (!labels_arg(vy_obj, "validation y", &vy, &nv))
            goto release_y;
        has_vy = 1;
    }
    if (!begin_optimizer(opt))
        goto release_y;
    model = scnn_py_model_begin(model_obj, 1);
    if (model == NULL) {
        end_optimizer(opt);
        goto release_y;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_fit(model, opt->optimizer, x.tensor, (const int32_t *)y.buf, n, vx.tensor,
                        has_vy ? (const int32_t *)vy.buf : NULL, nv, (int64_t)epochs, (int64_t)batch_size,
                        (uint64_t)seed, shuffle, fit_on_step, fit_on_epoch, &ctx);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 1);
    end_optimizer(opt);
    if (ctx.failed) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "fit: a callback failed");
    } else if (st != SCNN_STATUS_OK) {
        raise_status(st, NULL);
    } else {
        Py_INCREF(Py_None);
        result = Py_None;
    }
release_y:
    if (has_vy)
        PyBuffer_Release(&vy);
    PyBuffer_Release(&y);
release_x:
    release_arg(&vx);
    release_arg(&x);
    return result;
}

/* evaluate(model, x, y_int32, batch_size) -> (loss, accuracy): scnn_model_evaluate. */
static PyObject *py_evaluate(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *x_obj, *y_obj;
    long long batch_size;
    scnn_py_arg x;
    Py_buffer y;
    int64_t n = 0;
    float loss = 0;
    double accuracy = 0;
    scnn_model *model;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOL:evaluate", &model_obj, &x_obj, &y_obj, &batch_size))
        return NULL;
    if (!wrap_arg(x_obj, "x", 0, &x))
        return NULL;
    if (!labels_arg(y_obj, "y", &y, &n)) {
        release_arg(&x);
        return NULL;
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_evaluate(model, x.tensor, (const int32_t *)y.buf, n, (int64_t)batch_size, &loss, &accuracy);
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 0);
    }
    PyBuffer_Release(&y);
    release_arg(&x);
    if (model == NULL)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return Py_BuildValue("(dd)", (double)loss, accuracy);
}

/* predict(model, x, out_int32) -> None: scnn_model_predict into a writable int32 buffer. */
static PyObject *py_predict(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *x_obj, *out_obj;
    scnn_py_arg x;
    Py_buffer out;
    scnn_model *model;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:predict", &model_obj, &x_obj, &out_obj))
        return NULL;
    if (!wrap_arg(x_obj, "x", 0, &x))
        return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        release_arg(&x);
        return NULL;
    }
    if (out.itemsize != (Py_ssize_t)sizeof(int32_t) || ((uintptr_t)out.buf) % sizeof(int32_t) != 0) {
        PyErr_SetString(PyExc_TypeError, "predict: out must be an aligned int32 buffer");
        PyBuffer_Release(&out);
        release_arg(&x);
        return NULL;
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_predict(model, x.tensor, (int32_t *)out.buf, (int64_t)(out.len / (Py_ssize_t)sizeof(int32_t)));
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 0);
    }
    PyBuffer_Release(&out);
    release_arg(&x);
    if (model == NULL)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* ---- safetensors files ---------------------------------------------------------------- */

/* safetensors_read(path, name) -> TensorBuffer: scnn_safetensors_read. */
static PyObject *py_safetensors_read(PyObject *self, PyObject *args)
{
    PyObject *path_obj, *bytes = NULL;
    const char *name;
    Py_ssize_t len;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Os#:safetensors_read", &path_obj, &name, &len))
        return NULL;
    if ((size_t)len != strlen(name)) {
        PyErr_SetString(PyExc_ValueError, "name: embedded NUL character");
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_safetensors_read(PyBytes_AS_STRING(bytes), name, &out);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(out);
        return raise_status(st, NULL);
    }
    return tensor_result(out);
}

/* safetensors_write(path, names: list[str], arrays: list[float32 buffer]): scnn_safetensors_write. */
static PyObject *py_safetensors_write(PyObject *self, PyObject *args)
{
    PyObject *path_obj, *keys, *arrays, *bytes = NULL, *result = NULL;
    Py_ssize_t n, i, wrapped = 0;
    const char **names = NULL;
    scnn_py_arg *tensors = NULL;
    const scnn_tensor **handles = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO!O!:safetensors_write", &path_obj, &PyList_Type, &keys, &PyList_Type, &arrays))
        return NULL;
    n = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(arrays) != n) {
        PyErr_Format(PyExc_ValueError, "safetensors_write: %zd names but %zd arrays", n, PyList_GET_SIZE(arrays));
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return NULL;
    names = (const char **)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    tensors = (scnn_py_arg *)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *tensors);
    handles = (const scnn_tensor **)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *handles);
    if (names == NULL || tensors == NULL || handles == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_ssize_t len;
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "safetensors_write: names must be str, got %.200s", Py_TYPE(key)->tp_name);
            goto done;
        }
        names[i] = PyUnicode_AsUTF8AndSize(key, &len);
        if (names[i] == NULL)
            goto done;
        if ((size_t)len != strlen(names[i])) {
            PyErr_SetString(PyExc_ValueError, "safetensors_write: a name contains a NUL character");
            goto done;
        }
        if (!wrap_arg(PyList_GET_ITEM(arrays, i), names[i], 0, &tensors[i]))
            goto done;
        wrapped = i + 1;
        handles[i] = tensors[i].tensor;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_safetensors_write(PyBytes_AS_STRING(bytes), names, handles, (int64_t)n);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK) {
        raise_status(st, NULL);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (i = 0; i < wrapped; i++)
        release_arg(&tensors[i]);
    PyMem_Free(names);
    PyMem_Free(tensors);
    PyMem_Free(handles);
    Py_DECREF(bytes);
    return result;
}

static PyMethodDef training_functions[] = {
    {"set_training", (PyCFunction)py_set_training, METH_VARARGS,
     "set_training(model, training): scnn_model_set_training."},
    {"is_training", (PyCFunction)py_is_training, METH_O, "is_training(model) -> bool: scnn_model_is_training."},
    {"train_step", (PyCFunction)py_train_step, METH_VARARGS,
     "train_step(model, optimizer, x, y_int32) -> float: scnn_model_train_step."},
    {"compute_gradients", (PyCFunction)py_compute_gradients, METH_VARARGS,
     "compute_gradients(model, optimizer, x, y_int32) -> float: scnn_model_compute_gradients."},
    {"fit", (PyCFunction)py_fit, METH_VARARGS,
     "fit(model, optimizer, x, y_int32, val_x|None, val_y_int32|None, epochs, batch_size, seed, shuffle, "
     "on_step|None, on_epoch|None): scnn_model_fit."},
    {"evaluate", (PyCFunction)py_evaluate, METH_VARARGS,
     "evaluate(model, x, y_int32, batch_size) -> (loss, accuracy): scnn_model_evaluate."},
    {"predict", (PyCFunction)py_predict, METH_VARARGS,
     "predict(model, x, out_int32): scnn_model_predict."},
    {"safetensors_read", (PyCFunction)py_safetensors_read, METH_VARARGS,
     "safetensors_read(path, name) -> TensorBuffer: scnn_safetensors_read."},
    {"safetensors_write", (PyCFunction)py_safetensors_write, METH_VARARGS,
     "safetensors_write(path, names, arrays): scnn_safetensors_write."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_training(PyObject *module, scnn_py_raise_fn raise, scnn_py_tensor_fn tensor, scnn_py_wrap_fn wrap,
                         scnn_py_release_fn release)
{
    raise_status = raise;
    tensor_result = tensor;
    wrap_arg = wrap;
    release_arg = release;
    if (PyType_Ready(&OptimizerType) < 0)
        return -1;
    Py_INCREF(&OptimizerType);
    if (PyModule_AddObject(module, "Optimizer", (PyObject *)&OptimizerType) < 0) {
        Py_DECREF(&OptimizerType);
        return -1;
    }
    return PyModule_AddFunctions(module, training_functions);
}
